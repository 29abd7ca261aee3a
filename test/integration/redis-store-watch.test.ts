/**
 * Fan-out under load on a real redis-server: many watchers on one store, writes from two other
 * replicas at once, and every watcher sees every version exactly once, in order.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitAroundResourceVersion } from '../../src/store/redis/codespace-json.js';
import { storeKeys } from '../../src/store/redis/keys.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { WatchSubscription } from '../../src/store/store.js';
import { waitFor } from '../support/e2e-api.js';
import { aCodespace } from '../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const watchersCount = 100;
const writesPerReplica = 150;
const deliveryTimeoutMs = 20_000;

describe('RedisStore watch fan-out', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gives each of 100 watchers every change from two writing replicas exactly once, in order', async () => {
    const prefix = `fanout-${randomUUID()}:`;
    const watching = await RedisStore.connect({ url: server.url, keyPrefix: prefix });
    const replicas = [
      await RedisStore.connect({ url: server.url, keyPrefix: prefix }),
      await RedisStore.connect({ url: server.url, keyPrefix: prefix }),
    ];
    const controller = new AbortController();
    const total = writesPerReplica * replicas.length;
    try {
      // Half the watchers start before any write, half join midway and must catch up.
      const collect = async (): Promise<number[]> => {
        const versions: number[] = [];
        for await (const event of watching.watchCodespaces({
          fromResourceVersion: 0,
          signal: controller.signal,
        })) {
          versions.push(event.resourceVersion);
          if (versions.length === total) {
            break;
          }
        }
        return versions;
      };
      const early = Array.from({ length: watchersCount / 2 }, collect);
      const writing = replicas.map(async (replica, index) => {
        for (let write = 0; write < writesPerReplica; write += 1) {
          await replica.createCodespace(aCodespace({ name: `r${index}-${write}` }), { maxPerOwner: total });
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const late = Array.from({ length: watchersCount / 2 }, collect);
      await Promise.all(writing);
      const timeout = setTimeout(() => controller.abort(), deliveryTimeoutMs);
      const results = await Promise.all([...early, ...late]);
      clearTimeout(timeout);
      const expected = Array.from({ length: total }, (_, index) => index + 1);
      for (const versions of results) {
        expect(versions).toEqual(expected);
      }
    } finally {
      controller.abort();
      for (const store of [watching, ...replicas]) {
        await store.close();
      }
    }
  });

  it('gives each of 100 push subscribers every change from two writing replicas exactly once, in order', async () => {
    const prefix = `push-${randomUUID()}:`;
    const watching = await RedisStore.connect({ url: server.url, keyPrefix: prefix });
    const replicas = [
      await RedisStore.connect({ url: server.url, keyPrefix: prefix }),
      await RedisStore.connect({ url: server.url, keyPrefix: prefix }),
    ];
    const total = writesPerReplica * replicas.length;
    const subscriptions: WatchSubscription[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      // Half subscribe before any write, half midway and must catch up from history.
      const collect = (): Promise<number[]> =>
        new Promise((resolve, reject) => {
          const versions: number[] = [];
          const subscription = watching.subscribeCodespaceEvents({
            fromResourceVersion: 0,
            onEvents: (events) => {
              for (const event of events) versions.push(event.resourceVersion);
              if (versions.length >= total) resolve(versions);
            },
            onEnd: (error) => reject(error ?? new Error(`cut off after ${versions.length} events`)),
          });
          subscriptions.push(subscription);
        });
      const early = Array.from({ length: watchersCount / 2 }, collect);
      const writing = replicas.map(async (replica, index) => {
        for (let write = 0; write < writesPerReplica; write += 1) {
          await replica.createCodespace(aCodespace({ name: `r${index}-${write}` }), { maxPerOwner: total });
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const late = Array.from({ length: watchersCount / 2 }, collect);
      await Promise.all(writing);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('deliveries timed out')), deliveryTimeoutMs);
      });
      const results = await Promise.race([Promise.all([...early, ...late]), timeout]);
      const expected = Array.from({ length: total }, (_, index) => index + 1);
      for (const versions of results) {
        expect(versions).toEqual(expected);
      }
    } finally {
      clearTimeout(timer);
      for (const subscription of subscriptions) subscription.close();
      for (const store of [watching, ...replicas]) {
        await store.close();
      }
    }
  });
});

describe('RedisStore watch: changes nobody published', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('still delivers a change a writer did not publish (an older replica), from the stream, in order', async () => {
    const prefix = `unpublished-${randomUUID()}:`;
    const watching = await RedisStore.connect({ url: server.url, keyPrefix: prefix, watchBlockMs: 200 });
    const writer = await RedisStore.connect({ url: server.url, keyPrefix: prefix });
    const raw = new Redis(server.url);
    const versions: number[] = [];
    const subscription = watching.subscribeCodespaceEvents({
      fromResourceVersion: 0,
      onEvents: (events) => versions.push(...events.map((event) => event.resourceVersion)),
      onEnd: () => undefined,
    });
    try {
      const created = await writer.createCodespace(aCodespace({ name: 'quiet' }), { maxPerOwner: 10 });
      // The update script as an older replica runs it: no channel argument, so nothing published.
      const keys = storeKeys(prefix);
      const json = splitAroundResourceVersion({ ...created, spec: { ...created.spec, running: false } });
      const script = readFileSync(
        new URL('../../src/store/redis/scripts/update-codespace-4.lua', import.meta.url),
        'utf8',
      );
      const version = await raw.eval(
        script,
        4,
        keys.codespace('quiet'),
        keys.resourceVersion,
        keys.events,
        keys.leaderEpoch,
        created.metadata.resourceVersion,
        '',
        created.metadata.owner,
        json.before,
        json.after,
        '1000',
      );
      expect(version).toBe(2);
      // Found by the quiet-channel check (every 200 ms here) without any later write.
      await waitFor('the unpublished change', async () => (versions.length === 2 ? true : undefined), {
        timeoutMs: 10_000,
      });
      expect(versions).toEqual([1, 2]);
      // A later published change follows in order.
      await writer.updateCodespace(
        { ...created, metadata: { ...created.metadata, resourceVersion: '2' } },
        { expectedResourceVersion: '2' },
      );
      await waitFor('the published change after it', async () => (versions.length === 3 ? true : undefined), {
        timeoutMs: 10_000,
      });
      expect(versions).toEqual([1, 2, 3]);
    } finally {
      subscription.close();
      raw.disconnect();
      await watching.close();
      await writer.close();
    }
  });
});
