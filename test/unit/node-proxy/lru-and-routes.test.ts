import { describe, expect, it } from 'vitest';
import { ActivityTracker } from '../../../src/node-proxy/activity-tracker.js';
import { LruCache } from '../../../src/shared/lru-cache.js';
import { InMemoryRouteTable } from '../../../src/node-proxy/route-table.js';

describe('LruCache', () => {
  it('evicts the least recently used entry', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
  });
});

describe('InMemoryRouteTable', () => {
  it('answers from 10,000 routes by name', () => {
    const table = new InMemoryRouteTable();
    for (let i = 0; i < 10_000; i++) {
      table.set(`cs-${i}`, {
        uid: `u${i}`,
        owner: 'alice',
        hostPort: 20_000 + (i % 1000),
        state: 'running',
        ready: true,
      });
    }
    expect(table.size).toBe(10_000);
    expect(table.routeFor('cs-9999')?.uid).toBe('u9999');
    expect(table.routeFor('cs-10000')).toBeUndefined();
    expect(table.routeFor('__proto__')).toBeUndefined();
  });
});

describe('ActivityTracker', () => {
  it('drains what was touched and restores undelivered batches without going back in time', () => {
    const tracker = new ActivityTracker();
    tracker.touch('a', 10);
    tracker.touch('a', 20);
    const batch = tracker.drain();
    expect(batch).toEqual(new Map([['a', 20]]));
    expect(tracker.drain().size).toBe(0);
    tracker.touch('a', 30);
    tracker.restore(batch);
    expect(tracker.drain()).toEqual(new Map([['a', 30]]));
  });
});
