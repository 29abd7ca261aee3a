import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeyedMutex, perKeyQueueMax } from '../../../src/node-agent/keyed-mutex.js';

describe('KeyedMutex', () => {
  it('never runs two operations on one key at once, but runs different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const active = new Map<string, number>();
    let maxSameKey = 0;
    let maxOverall = 0;
    const op = (key: string) =>
      mutex.run(key, async () => {
        active.set(key, (active.get(key) ?? 0) + 1);
        maxSameKey = Math.max(maxSameKey, active.get(key)!);
        maxOverall = Math.max(
          maxOverall,
          [...active.values()].reduce((a, b) => a + b, 0),
        );
        await sleep(5);
        active.set(key, active.get(key)! - 1);
      });
    await Promise.all([op('a'), op('a'), op('b'), op('a'), op('b')]);
    expect(maxSameKey).toBe(1);
    expect(maxOverall).toBe(2);
    expect(mutex.isBusy('a')).toBe(false);
  });

  it('keeps going after a failed operation and refuses an overlong queue', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await mutex.run('a', async () => 42)).toBe(42);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queued = Array.from({ length: perKeyQueueMax }, () => mutex.run('b', () => gate));
    await expect(mutex.run('b', async () => 1)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    release();
    await Promise.all(queued);
  });
});
