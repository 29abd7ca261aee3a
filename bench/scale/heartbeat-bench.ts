import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeartbeatResponse } from '../../src/model/agent-protocol.js';
import type { Heartbeat, ObservedContainer } from '../../src/model/node.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startPinnedTsChild, type StartedChild } from '../lib/child-process.js';
import { freeLoopbackPort } from '../lib/free-port.js';
import { httpRequest } from '../lib/http-client.js';
import { reportProblems } from '../lib/orchestrator-process.js';
import { sleep } from '../lib/monotonic-clock.js';
import { processCpuMs } from '../lib/process-cpu.js';
import { seedCalmFleet } from './calm-fleet.js';
import { benchFleet, fakeHeartbeat } from './fleet-fixtures.js';

/** Beats in flight at once: 2,000 agents beat independently, so many arrive together. */
export const heartbeatsInFlight = 32;
/** Containers each measured beat reports: a full node (its body is ~6 KB). */
export const containersPerBeat = 20;
const orchestratorReadyTimeoutMs = 30_000;
const readyPollMs = 100;

export interface HeartbeatResult {
  readonly path: 'store' | 'http';
  readonly beats: number;
  readonly accepted: number;
  readonly elapsedMs: number;
  readonly beatsPerSecond: number;
  /** CPU of the process doing the ingest (the benchmark for `store`, the orchestrator for `http`). */
  readonly cpuMsPerBeat: number;
}

/** `rounds` beats from every node, `heartbeatsInFlight` at a time, each with a higher sequence. */
async function drive(options: {
  nodes: number;
  rounds: number;
  /** Added to every sequence: a later run's beats must be newer than an earlier run's. */
  sequenceFrom: number;
  /** What each node reports (its assigned codespaces); default `containersPerBeat` made-up ones. */
  reportedByNode?: readonly (readonly ObservedContainer[])[];
  send: (beat: Heartbeat) => Promise<boolean>;
}): Promise<{ beats: number; accepted: number; elapsedMs: number }> {
  const beats: Heartbeat[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    for (let index = 0; index < options.nodes; index += 1) {
      const reported = options.reportedByNode?.[index];
      beats.push(
        fakeHeartbeat({
          index,
          sequence: options.sequenceFrom + round,
          containers: containersPerBeat,
          ...(reported === undefined ? {} : { reported }),
        }),
      );
    }
  }
  let next = 0;
  let accepted = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < beats.length) {
      if (await options.send(beats[next++] as Heartbeat)) accepted += 1;
    }
  };
  await Promise.all(Array.from({ length: heartbeatsInFlight }, worker));
  return { beats: beats.length, accepted, elapsedMs: performance.now() - started };
}

/** The store's `applyHeartbeat` (one Lua script per beat), in this process. */
export async function storeHeartbeats(options: {
  store: RedisStore;
  nodes: number;
  rounds: number;
  sequenceFrom: number;
}): Promise<HeartbeatResult> {
  const cpuBefore = processCpuMs(process.pid);
  const run = await drive({
    nodes: options.nodes,
    rounds: options.rounds,
    sequenceFrom: options.sequenceFrom,
    send: async (beat) => (await options.store.applyHeartbeat(beat, { receivedAtMs: Date.now() })).accepted,
  });
  return summarize('store', run, processCpuMs(process.pid) - cpuBefore);
}

export interface OrchestratorMemory {
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
export function memoryOf(pid: number): OrchestratorMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

/** How the calm fleet behind the HTTP measure was seeded, and whether it stayed calm. */
export interface CalmFleetCheck {
  readonly codespaces: number;
  readonly seedMs: number;
  /**
   * Codespace writes (resourceVersion steps) from the end of the seed to the start of the measured
   * rounds, and during them: both 0 when the fleet is calm (the reconciler agrees with the seed).
   */
  readonly writesBeforeMeasure: number;
  readonly writesWhileMeasured: number;
  /** Measured beats whose answer carried the node's 20 assignments from a leading reconciler. */
  readonly answeredWithAssignments: number;
  /** Measured beats answered 503 STORE_UNAVAILABLE (not accepted; see `send`). */
  readonly answeredUnavailable: number;
}

/**
 * The orchestrator's NotReady threshold (production default 15 s). Between its first node poll
 * and the end of the warm-up round (every node's first beat), start-up on a loaded machine can
 * take longer than 15 s; a node judged NotReady meanwhile would get its codespaces' status
 * rewritten twice, and the fleet would not be calm when the measure starts.
 */
const benchNodeNotReadyAfterMs = 60_000;
/** Commands of the seeding connection may wait behind hundreds of others. */
const seedCommandTimeoutMs = 30_000;

/**
 * Through the real orchestrator process (`src/orchestrator/main.ts`, pinned to `cpu`): every
 * beat is `POST /v1/nodes/{name}/heartbeat` with the fleet join secret, on a real port, over
 * keep-alive connections. Its key prefix is the default one, apart from the placement data.
 *
 * The fleet is calm, as in production between changes: before the orchestrator starts, its store
 * is seeded with `nodes` × 20 codespaces Running on those nodes (`seedCalmFleet`), and each beat
 * reports exactly its node's 20 containers. (Beats reporting containers the store does not hold
 * made the reconciler remove 40,000 orphans through unreachable agents: a measure of that, not
 * of ingest.)
 */
export async function httpHeartbeats(options: {
  redisUrl: string;
  cpu: number;
  nodes: number;
  rounds: number;
  /** The orchestrator's log level; default `info`, as in production. */
  logLevel?: string;
}): Promise<{ result: HeartbeatResult; memory: OrchestratorMemory; calm: CalmFleetCheck }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-scale-'));
  const secret = randomBytes(24).toString('base64url');
  const port = await freeLoopbackPort();
  const logPath = join(dataDir, 'orchestrator.log');
  const logFd = openSync(logPath, 'w');
  let seedStore: RedisStore | undefined;
  let child: StartedChild | undefined;
  let problemsReported = false;
  try {
    seedStore = await RedisStore.connect({ url: options.redisUrl, commandTimeoutMs: seedCommandTimeoutMs });
    const seedStarted = performance.now();
    const fleet = await seedCalmFleet({ store: seedStore, nodes: options.nodes });
    const seedMs = performance.now() - seedStarted;
    const versionAfterSeed = await seedStore.currentResourceVersion();
    child = startPinnedTsChild({
      entry: 'src/orchestrator/main.ts',
      cpu: options.cpu,
      ipc: false,
      stdout: logFd,
      env: {
        CODEYARD_HOST: '127.0.0.1',
        CODEYARD_PORT: String(port),
        REDIS_URL: options.redisUrl,
        CODEYARD_DATA_DIR: dataDir,
        CODEYARD_FLEET_JOIN_SECRETS: `${benchFleet}=${secret}`,
        CODEYARD_RATE_LIMIT_PER_SECOND: '100000',
        CODEYARD_RATE_LIMIT_BURST: '1000000',
        CODEYARD_LOG_LEVEL: options.logLevel ?? 'info',
        CODEYARD_NODE_NOT_READY_AFTER_MS: String(benchNodeNotReadyAfterMs),
      },
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + orchestratorReadyTimeoutMs;
    for (;;) {
      try {
        if ((await httpRequest({ method: 'GET', url: `${baseUrl}/readyz` })).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline || child.child.exitCode !== null) {
        throw new Error(`the orchestrator did not become ready within ${orchestratorReadyTimeoutMs} ms`);
      }
      await sleep(readyPollMs);
    }
    const headers = { authorization: `Bearer ${secret}` };
    let answeredWithAssignments = 0;
    let answeredUnavailable = 0;
    const send = async (beat: Heartbeat): Promise<boolean> => {
      const reply = await httpRequest({
        method: 'POST',
        url: `${baseUrl}/v1/nodes/${beat.nodeName}/heartbeat`,
        headers,
        body: beat,
      });
      // 503 is what an agent sees when the orchestrator cannot reach its store in time (a loaded
      // machine: an event-loop stall past the command timeout); the agent beats again later, so
      // it is counted, not fatal. Any other answer is a broken measure.
      if (reply.status === 503) {
        answeredUnavailable += 1;
        return false;
      }
      if (reply.status !== 200) throw new Error(`heartbeat answered ${reply.status}: ${reply.body}`);
      const answer = JSON.parse(reply.body) as HeartbeatResponse;
      // A leading reconciler answers with the node's assignments (the production response size).
      if ((answer.epoch ?? 0) > 0 && answer.assignments?.length === beat.containers.length) {
        answeredWithAssignments += 1;
      }
      return answer.accepted;
    };
    const beats = { nodes: options.nodes, reportedByNode: fleet.reportedByNode, send };
    // Warm-up: one round (JIT-compiles the route; every node has beaten the orchestrator once).
    await drive({ ...beats, rounds: 1, sequenceFrom: 0 });
    const versionBefore = await seedStore.currentResourceVersion();
    answeredWithAssignments = 0;
    answeredUnavailable = 0;
    const cpuBefore = processCpuMs(child.pid);
    const run = await drive({ ...beats, rounds: options.rounds, sequenceFrom: 1 });
    const result = summarize('http', run, processCpuMs(child.pid) - cpuBefore);
    const versionAfter = await seedStore.currentResourceVersion();
    // Read before the stop: a stopping reconciler warns that it stopped leading, which is no news.
    reportProblems(logPath);
    problemsReported = true;
    return {
      result,
      memory: memoryOf(child.pid),
      calm: {
        codespaces: fleet.codespaces,
        seedMs,
        writesBeforeMeasure: versionBefore - versionAfterSeed,
        writesWhileMeasured: versionAfter - versionBefore,
        answeredWithAssignments,
        answeredUnavailable,
      },
    };
  } finally {
    await child?.stop();
    await seedStore?.close();
    closeSync(logFd);
    if (!problemsReported) reportProblems(logPath);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function summarize(
  path: 'store' | 'http',
  run: { beats: number; accepted: number; elapsedMs: number },
  cpuMs: number,
): HeartbeatResult {
  return {
    path,
    beats: run.beats,
    accepted: run.accepted,
    elapsedMs: run.elapsedMs,
    beatsPerSecond: (run.beats * 1000) / run.elapsedMs,
    cpuMsPerBeat: cpuMs / run.beats,
  };
}
