/**
 * A beat from a boot the node has since left is late by definition, and is refused like a late
 * beat of the live boot. Found by the heartbeat chaos scenario: a beat of the previous boot
 * replayed after an agent restart was accepted and moved the node's observed state backwards.
 * Both stores (memory and Redis, a real redis-server) follow the same rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { isStaleBeat, retiredAfter, retiredBootIdsMax } from '../../../src/store/node-record.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import type { Store } from '../../../src/store/store.js';
import { aHeartbeat } from '../../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

describe('retired boots (pure rule)', () => {
  it('refuses a beat of a retired boot whatever its sequence, and starts afresh on an unseen boot', () => {
    const stored = { bootId: 'b2', sequence: 3, retiredBootIds: ['b1'] };
    expect(isStaleBeat(stored, aHeartbeat({ bootId: 'b1', sequence: 999 }))).toBe(true);
    expect(isStaleBeat(stored, aHeartbeat({ bootId: 'b3', sequence: 1 }))).toBe(false);
    expect(isStaleBeat(stored, aHeartbeat({ bootId: 'b2', sequence: 4 }))).toBe(false);
  });

  it('retires the replaced boot, newest first, and remembers a bounded number', () => {
    expect(retiredAfter(undefined, aHeartbeat({ bootId: 'b1' }))).toEqual([]);
    expect(retiredAfter({ bootId: 'b1' }, aHeartbeat({ bootId: 'b1' }))).toEqual([]);
    expect(retiredAfter({ bootId: 'b2', retiredBootIds: ['b1'] }, aHeartbeat({ bootId: 'b3' }))).toEqual([
      'b2',
      'b1',
    ]);
    const many = Array.from({ length: retiredBootIdsMax }, (_, i) => `old-${i}`);
    const next = retiredAfter({ bootId: 'live', retiredBootIds: many }, aHeartbeat({ bootId: 'new' }));
    expect(next).toHaveLength(retiredBootIdsMax);
    expect(next[0]).toBe('live');
  });
});

describe.each(['memory', 'redis'] as const)('%s store: beats of a boot the node left', (kind) => {
  let redis: RedisServer | undefined;
  let store: Store;
  beforeAll(async () => {
    if (kind === 'redis') {
      redis = await startRedisServer();
      store = await RedisStore.connect({ url: redis.url, keyPrefix: `boots-${Date.now()}:` });
    } else {
      store = new MemoryStore();
    }
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('are refused after a restart and do not replace the live boot', async () => {
    const at = { receivedAtMs: Date.now() };
    const oldBoot = (sequence: number) => aHeartbeat({ nodeName: 'n-boots', bootId: 'boot-old', sequence });
    expect((await store.applyHeartbeat(oldBoot(1), at)).accepted).toBe(true);
    expect((await store.applyHeartbeat(oldBoot(2), at)).accepted).toBe(true);
    const live = aHeartbeat({ nodeName: 'n-boots', bootId: 'boot-new', sequence: 1 });
    expect((await store.applyHeartbeat(live, at)).accepted).toBe(true);
    const late = await store.applyHeartbeat(oldBoot(3), at);
    expect(late.accepted).toBe(false);
    expect(late.node).toMatchObject({ bootId: 'boot-new', sequence: 1 });
    expect(await store.getNode('n-boots')).toMatchObject({ bootId: 'boot-new', sequence: 1 });
    const next = aHeartbeat({ nodeName: 'n-boots', bootId: 'boot-new', sequence: 2 });
    expect((await store.applyHeartbeat(next, at)).accepted).toBe(true);
  });

  it('forgets retired boots with the node', async () => {
    const at = { receivedAtMs: Date.now() };
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'n-gone', bootId: 'first', sequence: 1 }), at);
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'n-gone', bootId: 'second', sequence: 1 }), at);
    await store.deleteNode('n-gone');
    const again = await store.applyHeartbeat(
      aHeartbeat({ nodeName: 'n-gone', bootId: 'first', sequence: 1 }),
      at,
    );
    expect(again.accepted).toBe(true);
  });
});
