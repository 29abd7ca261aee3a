import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { WorkQueue } from '../../../src/reconciler/work-queue.js';

describe('WorkQueue order', () => {
  it('hands out keys first in, first out across many thousands of keys, interleaving adds and gets', () => {
    const queue = new WorkQueue({ clock: new SimulatedClock(0) });
    const keys = Array.from({ length: 5_000 }, (_, i) => `cs/${i}`);
    for (const key of keys.slice(0, 3_000)) queue.add(key);
    const taken: string[] = [];
    for (let i = 0; i < 2_000; i += 1) taken.push(queue.tryGet()!);
    expect(queue.length).toBe(1_000);
    for (const key of keys.slice(3_000)) queue.add(key);
    expect(queue.length).toBe(3_000);
    for (let key = queue.tryGet(); key !== undefined; key = queue.tryGet()) taken.push(key);
    expect(taken).toEqual(keys);
    expect(queue.length).toBe(0);
  });

  it('queues a key again after it was handed out and done', () => {
    const queue = new WorkQueue({ clock: new SimulatedClock(0) });
    for (let i = 0; i < 2_000; i += 1) queue.add(`k${i}`);
    for (let i = 0; i < 1_500; i += 1) queue.done(queue.tryGet()!);
    queue.add('k0');
    const rest: string[] = [];
    for (let key = queue.tryGet(); key !== undefined; key = queue.tryGet()) rest.push(key);
    expect(rest).toEqual([...Array.from({ length: 500 }, (_, i) => `k${1_500 + i}`), 'k0']);
  });
});
