import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Heartbeat } from '../../src/model/node.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startPinnedTsChild } from '../lib/child-process.js';
import { freeLoopbackPort } from '../lib/free-port.js';
import { httpRequest } from '../lib/http-client.js';
import { sleep } from '../lib/monotonic-clock.js';
import { processCpuMs } from '../lib/process-cpu.js';
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
  send: (beat: Heartbeat) => Promise<boolean>;
}): Promise<{ beats: number; accepted: number; elapsedMs: number }> {
  const beats: Heartbeat[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    for (let index = 0; index < options.nodes; index += 1) {
      beats.push(
        fakeHeartbeat({ index, sequence: options.sequenceFrom + round, containers: containersPerBeat }),
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

/**
 * Through the real orchestrator process (`src/orchestrator/main.ts`, pinned to `cpu`): every
 * beat is `POST /v1/nodes/{name}/heartbeat` with the fleet join secret, on a real port, over
 * keep-alive connections. Its key prefix is the default one, apart from the placement data.
 */
export async function httpHeartbeats(options: {
  redisUrl: string;
  cpu: number;
  nodes: number;
  rounds: number;
}): Promise<{ result: HeartbeatResult; memory: OrchestratorMemory }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-scale-'));
  const secret = randomBytes(24).toString('base64url');
  const port = await freeLoopbackPort();
  const logFd = openSync(join(dataDir, 'orchestrator.log'), 'w');
  const child = startPinnedTsChild({
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
      CODEYARD_LOG_LEVEL: 'warn',
    },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
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
    const send = async (beat: Heartbeat): Promise<boolean> => {
      const reply = await httpRequest({
        method: 'POST',
        url: `${baseUrl}/v1/nodes/${beat.nodeName}/heartbeat`,
        headers,
        body: beat,
      });
      if (reply.status !== 200) throw new Error(`heartbeat answered ${reply.status}: ${reply.body}`);
      return (JSON.parse(reply.body) as { accepted: boolean }).accepted;
    };
    // Warm-up: one round registers every node (and JIT-compiles the route).
    await drive({ nodes: options.nodes, rounds: 1, sequenceFrom: 0, send });
    const cpuBefore = processCpuMs(child.pid);
    const run = await drive({ nodes: options.nodes, rounds: options.rounds, sequenceFrom: 1, send });
    const result = summarize('http', run, processCpuMs(child.pid) - cpuBefore);
    return { result, memory: memoryOf(child.pid) };
  } finally {
    await child.stop();
    closeSync(logFd);
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
