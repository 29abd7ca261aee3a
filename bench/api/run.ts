/**
 * API latency benchmark: mutating calls (create, patch, delete) and listing 10,000 codespaces
 * through the real orchestrator process (fastify + RedisStore on a real port), beside the floor
 * (the same RedisStore calls made directly, no HTTP), interleaved A-B-A.
 *
 *   npx tsx bench/api/run.ts [--quick]
 *
 * This process is the load generator, pinned to CPU 0; the orchestrator and redis-server run
 * pinned to CPU 1. Writes `bench/results/api-latency.json` and prints markdown tables.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { parseBenchArgs } from '../lib/bench-args.js';
import { benchCodespace } from '../lib/bench-codespace.js';
import { startBenchRedis } from '../lib/bench-redis.js';
import { loadGeneratorCpu, pinProcess, systemUnderTestCpu } from '../lib/cpu-pinning.js';
import { LatencyHistogram, type LatencySummary } from '../lib/latency-histogram.js';
import { markdownTable } from '../lib/markdown-table.js';
import { startBenchOrchestrator } from '../lib/orchestrator-process.js';
import { runPacedLoop } from '../lib/paced-loop.js';
import { loadAverage1m, processCpuMs } from '../lib/process-cpu.js';
import { httpApiOperations, storeFloorOperations, type ApiOperations } from './api-operations.js';

const resultPath = 'bench/results/api-latency.json';

interface Settings {
  warmupSeconds: number;
  mutationSeconds: number;
  listsPerPhase: number;
  rounds: number;
}
const fullSettings: Settings = { warmupSeconds: 10, mutationSeconds: 8, listsPerPhase: 10, rounds: 3 };
const quickSettings: Settings = { warmupSeconds: 1, mutationSeconds: 2, listsPerPhase: 2, rounds: 1 };

/** Codespaces in the store while listing: the issue's 10,000. */
const seededCodespaces = 10_000;
const seedOwners = 100;
const seedConcurrency = 50;
/**
 * The API's largest page (`listPageSizeMax`, 10,000 since the list writes stored JSON as is):
 * listing 10,000 codespaces is one request. (Before, pages were capped at 1,000: 10 requests.)
 */
const listPageSize = 10_000;
/** Create → patch → delete sequences started per second (three mutating calls each). */
const sequencesPerSecond = 50;
const sequencesInFlightMax = 500;
const mutationGoalP99Ms = 50;
const failureSamplesMax = 3;
const listGoalP99Ms = 250;

type Operation = 'create' | 'patch' | 'delete';
const operations: Operation[] = ['create', 'patch', 'delete'];

interface MutationPhase {
  side: string;
  warmup: boolean;
  sequences: number;
  failures: number;
  /** The first few failures' messages. */
  failureSamples: string[];
  latency: Record<Operation, ReturnType<LatencyHistogram['snapshot']>>;
  sutCpuMs: number;
  redisCpuMs: number;
  loadAverage1m: number;
}

interface ListPhase {
  side: string;
  warmup: boolean;
  listMs: number[];
  pageMs: number[];
  itemsPerList: number[];
  sutCpuMs: number;
  redisCpuMs: number;
  loadAverage1m: number;
}

let nameCounter = 0;

async function mutationPhase(
  side: ApiOperations,
  meter: { sutPid: number | undefined; redisPid: number },
  seconds: number,
  warmup: boolean,
): Promise<MutationPhase> {
  const histograms = {
    create: new LatencyHistogram(),
    patch: new LatencyHistogram(),
    delete: new LatencyHistogram(),
  };
  const timed = async (operation: Operation, call: () => Promise<void>): Promise<void> => {
    const started = performance.now();
    await call();
    histograms[operation].record((performance.now() - started) * 1000);
  };
  const failureSamples: string[] = [];
  const sutCpuBefore = meter.sutPid === undefined ? 0 : processCpuMs(meter.sutPid);
  const redisCpuBefore = processCpuMs(meter.redisPid);
  const count = sequencesPerSecond * seconds;
  const result = await runPacedLoop({
    ratePerSecond: sequencesPerSecond,
    count,
    inFlightMax: sequencesInFlightMax,
    deadlineMs: seconds * 1000 * 3,
    issue: async () => {
      nameCounter += 1;
      const name = `bench-api-${nameCounter}`;
      try {
        await timed('create', () => side.create(name));
        await timed('patch', () => side.patch(name));
        await timed('delete', () => side.remove(name));
      } catch (error) {
        if (failureSamples.length < failureSamplesMax) failureSamples.push(String(error));
        throw error;
      }
    },
  });
  const phase: MutationPhase = {
    side: side.label,
    warmup,
    sequences: result.issued,
    failures: result.failed,
    failureSamples,
    latency: {
      create: histograms.create.snapshot(),
      patch: histograms.patch.snapshot(),
      delete: histograms.delete.snapshot(),
    },
    sutCpuMs: meter.sutPid === undefined ? Number.NaN : processCpuMs(meter.sutPid) - sutCpuBefore,
    redisCpuMs: processCpuMs(meter.redisPid) - redisCpuBefore,
    loadAverage1m: loadAverage1m(),
  };
  process.stderr.write(
    `mutations ${side.label}${warmup ? ' (warm-up)' : ''}: ` +
      operations.map((op) => `${op} p99 ${histograms[op].quantileMs(0.99)} ms`).join(', ') +
      `, failures ${result.failed}${failureSamples.length > 0 ? ` (${failureSamples.join('; ')})` : ''}, ` +
      `load ${phase.loadAverage1m}\n`,
  );
  return phase;
}

async function listPhase(
  side: ApiOperations,
  meter: { sutPid: number | undefined; redisPid: number },
  lists: number,
  warmup: boolean,
): Promise<ListPhase> {
  const sutCpuBefore = meter.sutPid === undefined ? 0 : processCpuMs(meter.sutPid);
  const redisCpuBefore = processCpuMs(meter.redisPid);
  const listMs: number[] = [];
  const pageMs: number[] = [];
  const itemsPerList: number[] = [];
  for (let index = 0; index < lists; index += 1) {
    const started = performance.now();
    const listed = await side.listAll(listPageSize);
    listMs.push(performance.now() - started);
    pageMs.push(...listed.pageMs);
    itemsPerList.push(listed.items);
  }
  const phase: ListPhase = {
    side: side.label,
    warmup,
    listMs,
    pageMs,
    itemsPerList,
    sutCpuMs: meter.sutPid === undefined ? Number.NaN : processCpuMs(meter.sutPid) - sutCpuBefore,
    redisCpuMs: processCpuMs(meter.redisPid) - redisCpuBefore,
    loadAverage1m: loadAverage1m(),
  };
  process.stderr.write(
    `list ${side.label}${warmup ? ' (warm-up)' : ''}: max ${Math.max(...listMs).toFixed(1)} ms, ` +
      `items ${[...new Set(itemsPerList)].join(',')}, load ${phase.loadAverage1m}\n`,
  );
  return phase;
}

/** Nearest-rank quantile of a small sample (listing has tens of samples, not thousands). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function seed(store: RedisStore): Promise<void> {
  const existing = await store.listCodespaces({ limit: 1 });
  if (existing.items.length > 0) throw new Error('the benchmark needs an empty store');
  for (let start = 0; start < seededCodespaces; start += seedConcurrency) {
    await Promise.all(
      Array.from({ length: Math.min(seedConcurrency, seededCodespaces - start) }, (_, offset) => {
        const index = start + offset;
        const owner = `seed-${index % seedOwners}`;
        return store.createCodespace(
          benchCodespace({ name: `seed-${String(index).padStart(5, '0')}`, owner }),
          { maxPerOwner: seededCodespaces },
        );
      }),
    );
  }
}

async function main(): Promise<void> {
  const { quick } = parseBenchArgs(process.argv.slice(2));
  const settings = quick ? quickSettings : fullSettings;
  pinProcess(process.pid, loadGeneratorCpu);
  const loadAtStart = loadAverage1m();
  const redis = await startBenchRedis();
  const cleanups: (() => Promise<void>)[] = [() => redis.stop()];
  stopOnSignal(cleanups);
  const mutationPhases: MutationPhase[] = [];
  const listPhases: ListPhase[] = [];
  let ours: ApiOperations | undefined;
  let floor: ApiOperations | undefined;
  try {
    const store = await RedisStore.connect({ url: redis.url });
    cleanups.unshift(() => store.close());
    await seed(store);
    const orchestrator = await startBenchOrchestrator({ redisUrl: redis.url });
    cleanups.unshift(() => orchestrator.stop());
    ours = httpApiOperations(orchestrator);
    floor = storeFloorOperations(store);
    const oursMeter = { sutPid: orchestrator.pid, redisPid: redis.pid };
    const floorMeter = { sutPid: undefined, redisPid: redis.pid };

    mutationPhases.push(await mutationPhase(ours, oursMeter, settings.warmupSeconds, true));
    mutationPhases.push(await mutationPhase(floor, floorMeter, Math.ceil(settings.warmupSeconds / 2), true));
    listPhases.push(await listPhase(ours, oursMeter, settings.listsPerPhase, true));
    listPhases.push(await listPhase(floor, floorMeter, settings.listsPerPhase, true));
    for (let round = 0; round < settings.rounds; round += 1) {
      mutationPhases.push(await mutationPhase(ours, oursMeter, settings.mutationSeconds, false));
      mutationPhases.push(await mutationPhase(floor, floorMeter, settings.mutationSeconds, false));
      listPhases.push(await listPhase(ours, oursMeter, settings.listsPerPhase, false));
      listPhases.push(await listPhase(floor, floorMeter, settings.listsPerPhase, false));
    }
    mutationPhases.push(await mutationPhase(ours, oursMeter, settings.mutationSeconds, false));
    listPhases.push(await listPhase(ours, oursMeter, settings.listsPerPhase, false));
  } finally {
    for (const cleanup of cleanups) {
      await cleanup().catch((error: unknown) => process.stderr.write(`cleanup failed: ${String(error)}\n`));
    }
  }

  const sides = [ours!, floor!];
  const mutationRows: (string | number)[][] = [];
  const mutationSummary: Record<string, Record<Operation, LatencySummary> & { failures: number }> = {};
  for (const side of sides) {
    const measured = mutationPhases.filter((phase) => phase.side === side.label && !phase.warmup);
    const calls = measured.reduce((sum, phase) => sum + phase.sequences * operations.length, 0);
    const sutCpuMs = measured.reduce((sum, phase) => sum + phase.sutCpuMs, 0);
    const redisCpuMs = measured.reduce((sum, phase) => sum + phase.redisCpuMs, 0);
    const failures = measured.reduce((sum, phase) => sum + phase.failures, 0);
    const perOperation = {} as Record<Operation, LatencySummary>;
    for (const operation of operations) {
      const latency = LatencyHistogram.from(measured.map((phase) => phase.latency[operation])).summary();
      perOperation[operation] = latency;
      mutationRows.push([
        side.label,
        operation,
        String(latency.count),
        latency.p50Ms,
        latency.p99Ms,
        latency.maxMs,
        measured
          .map((phase) => LatencyHistogram.from([phase.latency[operation]]).quantileMs(0.99).toFixed(2))
          .join(' / '),
        String(failures),
        sutCpuMs / Math.max(1, calls),
        redisCpuMs / Math.max(1, calls),
      ]);
    }
    mutationSummary[side.label] = { ...perOperation, failures };
  }
  const listRows: (string | number)[][] = [];
  const listSummary: Record<
    string,
    { p50Ms: number; p99Ms: number; pageP99Ms: number; lists: number; itemsPerList: number[] }
  > = {};
  for (const side of sides) {
    const measured = listPhases.filter((phase) => phase.side === side.label && !phase.warmup);
    const listMs = measured.flatMap((phase) => phase.listMs);
    const pageMs = measured.flatMap((phase) => phase.pageMs);
    const sutCpuMs = measured.reduce((sum, phase) => sum + phase.sutCpuMs, 0);
    const redisCpuMs = measured.reduce((sum, phase) => sum + phase.redisCpuMs, 0);
    const itemsPerList = [...new Set(measured.flatMap((phase) => phase.itemsPerList))];
    listSummary[side.label] = {
      p50Ms: quantile(listMs, 0.5),
      p99Ms: quantile(listMs, 0.99),
      pageP99Ms: quantile(pageMs, 0.99),
      lists: listMs.length,
      itemsPerList,
    };
    listRows.push([
      side.label,
      String(listMs.length),
      itemsPerList.join(','),
      quantile(listMs, 0.5),
      quantile(listMs, 0.99),
      Math.max(...listMs),
      quantile(pageMs, 0.5),
      quantile(pageMs, 0.99),
      sutCpuMs / Math.max(1, listMs.length),
      redisCpuMs / Math.max(1, listMs.length),
    ]);
  }
  const oursMutations = mutationSummary[ours!.label]!;
  const mutationP99Ms = Math.max(...operations.map((operation) => oursMutations[operation].p99Ms));
  const oursList = listSummary[ours!.label]!;
  const goals = {
    mutationP99Ms,
    mutationMet: mutationP99Ms <= mutationGoalP99Ms && oursMutations.failures === 0,
    listP99Ms: oursList.p99Ms,
    listMet:
      oursList.p99Ms <= listGoalP99Ms && oursList.itemsPerList.every((items) => items === seededCodespaces),
  };
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverage1mAtStart: loadAtStart,
    loadAverage1mAtEnd: loadAverage1m(),
    pinning: `load generator on CPU ${loadGeneratorCpu}; orchestrator and redis-server on CPU ${systemUnderTestCpu}`,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    quick ? resultPath.replace('.json', '.partial.json') : resultPath,
    `${JSON.stringify({ date: new Date().toISOString(), quick, settings, machine, sequencesPerSecond, goals, mutationSummary, listSummary, mutationPhases, listPhases }, null, 2)}\n`,
  );
  const mutationTable = markdownTable(
    [
      'side',
      'call',
      'calls',
      'p50 ms',
      'p99 ms',
      'max ms',
      'p99 per phase, ms',
      'failed sequences',
      'SUT CPU ms/call',
      'redis CPU ms/call',
    ],
    mutationRows,
    3,
  );
  const listTable = markdownTable(
    [
      'side',
      'full lists',
      'items per list',
      'p50 ms',
      'p99 ms',
      'max ms',
      'page p50 ms',
      'page p99 ms',
      'SUT CPU ms/list',
      'redis CPU ms/list',
    ],
    listRows,
    2,
  );
  process.stdout.write(
    `\n### Mutating calls (${sequencesPerSecond} create→patch→delete sequences/s, open loop)\n\n${mutationTable}\n\n` +
      `### Listing ${seededCodespaces} codespaces (${listHeading(seededCodespaces / listPageSize)})\n\n${listTable}\n\n` +
      `Goals: mutating p99 ≤ ${mutationGoalP99Ms} ms: ${goals.mutationMet ? 'met' : 'MISSED'} (${mutationP99Ms.toFixed(2)} ms, worst call type); ` +
      `list 10,000 p99 ≤ ${listGoalP99Ms} ms: ${goals.listMet ? 'met' : 'MISSED'} (${oursList.p99Ms.toFixed(2)} ms)\n\nMachine: ${JSON.stringify(machine)}\n`,
  );
}

/** Ctrl-C or a kill by pid still stops every process this run started (none may outlive it). */
function stopOnSignal(cleanups: readonly (() => Promise<void>)[]): void {
  const stop = (): void => {
    void (async () => {
      for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      process.exit(130);
    })();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `API benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

function listHeading(pages: number): string {
  return pages === 1 ? 'one request' : `${pages} pages of ${listPageSize}, sequential`;
}
