import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { runWorkers } from '../../../src/reconciler/reconcile-result.js';
import { WorkQueue } from '../../../src/reconciler/work-queue.js';

/** Burns CPU without yielding, as planning does. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('workers and the event loop', () => {
  it('let I/O callbacks run between keys that never await anything real', async () => {
    const queue = new WorkQueue({ clock: new SimulatedClock(0) });
    const keyCount = 60;
    for (let i = 0; i < keyCount; i += 1) queue.add(`cs/${i}`);
    let done = 0;
    let doneWhenIoRan: number | undefined;
    setImmediate(() => (doneWhenIoRan = done));
    const working = runWorkers({
      queue,
      concurrency: 4,
      eventLoopBudgetMs: 10,
      // Resolves at once, like a pass answered from the plan memo: only microtasks in between.
      reconcile: async () => {
        busyFor(1);
        done += 1;
        if (done === keyCount) queue.shutDown();
      },
    });
    await working;
    expect(done).toBe(keyCount);
    // 1 ms per key and a 10 ms budget: the callback ran after about ten keys, long before the end.
    expect(doneWhenIoRan).toBeDefined();
    expect(doneWhenIoRan!).toBeLessThan(keyCount / 2);
  });
});
