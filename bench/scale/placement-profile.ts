/**
 * Profiles only the placement windows ("ours") of the scale benchmark: 2,000 nodes, 40,000
 * codespaces, the controller's real reconcile per key, the CPU profile taken in-process around
 * `--placements` placements at low fill. `npx tsx bench/scale/placement-profile.ts [--placements N]
 * [--out FILE] [--heap | --no-profile] [--warm-up-ms 5000]`, then `npx tsx bench/lib/profile-summary.ts FILE` (with `--heap`, a sampling
 * heap profile of the same window instead).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisServer } from '../../test/support/redis-server.js';
import { pinProcess } from '../lib/cpu-pinning.js';
import { CommandCounter } from './command-counter.js';
import { warmUpPlacement } from './placement-warm-up.js';
import { seedFleet } from './seed-fleet.js';
import { PlacementBench } from './placement-bench.js';

const nodes = 2_000;
const codespaces = 40_000;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const placements = Number(argument('--placements', '4000'));
  const out = argument('--out', '/tmp/placement.cpuprofile');
  pinProcess(process.pid, 1);
  const redis = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
  pinProcess(redis.pid, 0);
  const store = await RedisStore.connect({ url: redis.url, keyPrefix: 'p:', commandTimeoutMs: 10_000 });
  try {
    const names = await seedFleet(store, { nodes, codespaces });
    await warmUpPlacement({
      redisUrl: redis.url,
      keyPrefix: 'p-warm-up:',
      minDurationMs: Number(argument('--warm-up-ms', '5000')),
      commandTimeoutMs: 10_000,
    });
    const bench = await PlacementBench.start({
      store,
      counter: new CommandCounter(store),
      nodeCount: nodes,
      codespaceNames: names,
    });
    await bench.controller.pollNodes();
    await bench.runOurs(400);
    const session = new Session();
    session.connect();
    const heap = process.argv.includes('--heap');
    if (process.argv.includes('--no-profile')) {
      // Only the rates and CPU per placement, as the benchmark measures them: ours, null, ours.
      const windows = [
        await bench.runOurs(placements),
        await bench.runNull(placements),
        await bench.runOurs(placements),
      ];
      for (const w of windows) {
        process.stdout.write(
          `${w.contender} ${w.placementsPerSecond.toFixed(0)}/s ${w.cpuMsPerPlacement.toFixed(3)} cpu ms\n`,
        );
      }
      return;
    }
    if (heap) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    } else {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const window = await bench.runOurs(placements);
    const { profile } = heap
      ? await session.post('HeapProfiler.stopSampling')
      : await session.post('Profiler.stop');
    writeFileSync(out, JSON.stringify(profile));
    const nullWindow = await bench.runNull(placements);
    process.stdout.write(
      `ours ${window.placementsPerSecond.toFixed(0)}/s ${window.cpuMsPerPlacement.toFixed(3)} cpu ms (profiled); ` +
        `null ${nullWindow.placementsPerSecond.toFixed(0)}/s ${nullWindow.cpuMsPerPlacement.toFixed(3)} cpu ms; ` +
        `profile: ${out}\n`,
    );
  } finally {
    await store.close();
    await redis.stop();
  }
}

await main();
