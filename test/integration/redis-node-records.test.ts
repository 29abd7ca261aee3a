import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { storeKeys } from '../../src/store/redis/keys.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { aHeartbeat } from '../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

const stores: [string, () => Promise<{ store: Store; close: () => Promise<void> }>][] = [
  ['MemoryStore', async () => ({ store: new MemoryStore(), close: async () => undefined })],
  [
    'RedisStore',
    async () => {
      const store = await RedisStore.connect({ url: server.url, keyPrefix: `test-${randomUUID()}:` });
      return { store, close: () => store.close() };
    },
  ],
];

describe.each(stores)('%s heartbeats with a fleet check', (_name, open) => {
  it('refuses a beat for a node recorded under another fleet, and keeps the record', async () => {
    const { store, close } = await open();
    try {
      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', fleet: 'blue', bootId: 'b', sequence: 1 }), {
        receivedAtMs: 1,
        expectedFleet: 'blue',
      });
      await expect(
        store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', fleet: 'green', bootId: 'b', sequence: 2 }), {
          receivedAtMs: 2,
          expectedFleet: 'green',
        }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN', field: 'nodeName' });
      expect((await store.getNode('n1'))?.fleet).toBe('blue');
      const again = await store.applyHeartbeat(
        aHeartbeat({ nodeName: 'n1', fleet: 'blue', bootId: 'b', sequence: 3 }),
        { receivedAtMs: 3, expectedFleet: 'blue' },
      );
      expect(again).toMatchObject({
        accepted: true,
        node: { fleet: 'blue', sequence: 3, unschedulable: false },
      });
    } finally {
      await close();
    }
  });
});

describe('RedisStore node records', () => {
  it('lists an unchanged record as the same object, and a fresh one once it beats, is cordoned or goes', async () => {
    const store = await RedisStore.connect({ url: server.url, keyPrefix: `test-${randomUUID()}:` });
    try {
      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', bootId: 'b', sequence: 1 }), {
        receivedAtMs: 1,
      });
      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n2', bootId: 'b', sequence: 1 }), {
        receivedAtMs: 1,
      });
      const [first1, first2] = await store.listNodes();
      const [same1, same2] = await store.listNodes();
      expect(same1).toBe(first1);
      expect(same2).toBe(first2);

      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', bootId: 'b', sequence: 2 }), {
        receivedAtMs: 2,
      });
      const [beat1, still2] = await store.listNodes();
      expect(beat1).not.toBe(first1);
      expect(beat1).toMatchObject({ sequence: 2, lastHeartbeatReceivedMs: 2 });
      expect(still2).toBe(first2);

      await store.setNodeUnschedulable('n2', true);
      const [, cordoned2] = await store.listNodes();
      expect(cordoned2).toMatchObject({ name: 'n2', unschedulable: true });

      await store.deleteNode('n2');
      expect((await store.listNodes()).map((n) => n.name)).toEqual(['n1']);
    } finally {
      await store.close();
    }
  });

  it('checks the fleet of a record stored before the fleet had a field of its own', async () => {
    const keyPrefix = `test-${randomUUID()}:`;
    const store = await RedisStore.connect({ url: server.url, keyPrefix });
    const raw = new Redis(server.url);
    try {
      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', fleet: 'blue', bootId: 'b', sequence: 1 }), {
        receivedAtMs: 1,
      });
      await raw.hdel(storeKeys(keyPrefix).node('n1'), 'fleet');
      await expect(
        store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', fleet: 'green', bootId: 'b', sequence: 2 }), {
          receivedAtMs: 2,
          expectedFleet: 'green',
        }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});
