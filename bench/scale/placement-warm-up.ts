import { RedisStore } from '../../src/store/redis/redis-store.js';
import { CommandCounter } from './command-counter.js';
import { PlacementBench } from './placement-bench.js';
import { seedFleet } from './seed-fleet.js';

/** A small fleet, placed full again and again under fresh key prefixes until the time is up. */
const warmUpFleet = { nodes: 100, codespaces: 2_000 };
const warmUpWindowPlacements = 250;

/**
 * Warms the placement path up (JIT, caches, the heap's steady state) for at least `minDurationMs`
 * before anything is measured, without using up the measured fleet's slots: ours and the null
 * placer alternately fill small throw-away fleets, each under its own key prefix (left in Redis:
 * nothing the measured fleet reads).
 */
export async function warmUpPlacement(options: {
  redisUrl: string;
  keyPrefix: string;
  minDurationMs: number;
  commandTimeoutMs: number;
}): Promise<{ fleets: number; placements: number; elapsedMs: number }> {
  const started = performance.now();
  let fleets = 0;
  let placements = 0;
  while (performance.now() - started < options.minDurationMs) {
    const store = await RedisStore.connect({
      url: options.redisUrl,
      keyPrefix: `${options.keyPrefix}${fleets}:`,
      commandTimeoutMs: options.commandTimeoutMs,
    });
    try {
      const names = await seedFleet(store, warmUpFleet);
      const bench = await PlacementBench.start({
        store,
        counter: new CommandCounter(store),
        nodeCount: warmUpFleet.nodes,
        codespaceNames: names,
      });
      for (let ours = true; bench.remaining > 0; ours = !ours) {
        const size = Math.min(warmUpWindowPlacements, bench.remaining);
        const window = ours ? await bench.runOurs(size) : await bench.runNull(size);
        placements += window.placements;
      }
    } finally {
      await store.close();
    }
    fleets += 1;
  }
  return { fleets, placements, elapsedMs: performance.now() - started };
}
