/**
 * What only a real Redis can show: a crash (kill -9) and a restart, the key layout, and the
 * single watch connection per store.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { aCodespace } from '../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { expectCode, takeEvents, watchIterator } from '../unit/store/store-contract.js';

const quota = { maxPerOwner: 1000 };
/** Generous: the store must fail fast, never hang; the exact figure is for benchmarks. */
const failFastBoundMs = 5_000;

describe('RedisStore when Redis fails', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });

  async function durableServer(): Promise<RedisServer> {
    const server = await startRedisServer({ persistence: 'aof' });
    cleanups.push(() => server.stop());
    return server;
  }

  async function storeOn(server: RedisServer, prefix = `test-${randomUUID()}:`): Promise<RedisStore> {
    const store = await RedisStore.connect({ url: server.url, keyPrefix: prefix });
    cleanups.push(() => store.close());
    return store;
  }

  async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() > deadline) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  it('rejects calls with STORE_UNAVAILABLE quickly after kill -9, and works again after a restart', async () => {
    const server = await durableServer();
    const store = await storeOn(server);
    const created = await store.createCodespace(aCodespace({ name: 'before-crash' }), quota);

    await server.kill9();
    const started = Date.now();
    await expectCode(store.getCodespace('before-crash'), 'STORE_UNAVAILABLE');
    await expectCode(store.createCodespace(aCodespace(), quota), 'STORE_UNAVAILABLE');
    await expectCode(store.ping(), 'STORE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(failFastBoundMs);

    await server.restart();
    // ioredis reconnects by itself; scripts come back through the EVALSHA → EVAL fallback.
    await eventually(() => store.ping());
    expect(await store.getCodespace('before-crash')).toEqual(created);
    const updated = await store.updateCodespace(
      { ...created, spec: { ...created.spec, running: false } },
      { expectedResourceVersion: created.metadata.resourceVersion },
    );
    expect(updated.metadata.resourceVersion).toBe('2');
  });

  it('resumes a live watch after a Redis restart without losing committed events', async () => {
    const server = await durableServer();
    // Another replica writes; this one only watches.
    const prefix = `test-${randomUUID()}:`;
    const store = await storeOn(server, prefix);
    const writer = await storeOn(server, prefix);
    const controller = new AbortController();
    cleanups.push(async () => controller.abort());
    const iterator = watchIterator(store, { fromResourceVersion: 0, signal: controller.signal });
    const firstBatch = takeEvents(iterator, 3);
    for (let index = 0; index < 3; index += 1) {
      await writer.createCodespace(aCodespace(), quota);
    }
    expect((await firstBatch).map((event) => event.resourceVersion)).toEqual([1, 2, 3]);

    await server.kill9();
    await server.restart();
    await eventually(() => writer.ping());
    for (let index = 0; index < 3; index += 1) {
      await writer.createCodespace(aCodespace(), quota);
    }
    const afterRestart = await takeEvents(iterator, 3);
    expect(afterRestart.map((event) => event.resourceVersion)).toEqual([4, 5, 6]);
  });

  it('rejects a new watch with STORE_UNAVAILABLE while Redis is down', async () => {
    const server = await durableServer();
    const store = await storeOn(server);
    await server.kill9();
    const controller = new AbortController();
    cleanups.push(async () => controller.abort());
    await expectCode(
      watchIterator(store, { fromResourceVersion: 0, signal: controller.signal }).next(),
      'STORE_UNAVAILABLE',
    );
  });

  it('times out with STORE_UNAVAILABLE when Redis stops answering, and recovers when it answers again', async () => {
    const server = await durableServer();
    const store = await storeOn(server);
    const created = await store.createCodespace(aCodespace({ name: 'frozen' }), quota);
    process.kill(server.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      await expectCode(store.getCodespace('frozen'), 'STORE_UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(failFastBoundMs);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    expect(await eventually(() => store.getCodespace('frozen'))).toEqual(created);
  });

  it('fails to connect with STORE_UNAVAILABLE when nothing listens', async () => {
    const server = await startRedisServer();
    const url = server.url;
    await server.stop();
    const started = Date.now();
    await expectCode(RedisStore.connect({ url, connectTimeoutMs: 500 }), 'STORE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(failFastBoundMs);
  });
});

describe('RedisStore layout on a real redis-server', () => {
  let server: RedisServer | undefined;
  const stores: RedisStore[] = [];
  const controllers: AbortController[] = [];
  afterEach(async () => {
    for (const controller of controllers.splice(0)) {
      controller.abort();
    }
    for (const store of stores.splice(0)) {
      await store.close();
    }
    await server?.stop();
    server = undefined;
  });

  it('keeps every key under its prefix and uses the resourceVersion as the stream id', async () => {
    server = await startRedisServer();
    const store = await RedisStore.connect({ url: server.url, keyPrefix: 'layout:' });
    stores.push(store);
    await store.createCodespace(aCodespace({ name: 'one', owner: 'ann' }), quota);
    await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 10_000 });
    const probe = new Redis(server.url);
    try {
      const keys = (await probe.keys('*')).sort();
      expect(keys).toEqual([
        'layout:codespace:one',
        'layout:codespaces:events',
        'layout:codespaces:names',
        'layout:codespaces:owner:ann',
        'layout:codespaces:resource-version',
        'layout:leader:epoch',
        'layout:leader:lease',
      ]);
      const entries = await probe.xrange('layout:codespaces:events', '-', '+');
      expect(entries.map(([id]) => id)).toEqual(['1-0']);
    } finally {
      probe.disconnect();
    }
  });

  it('writes nothing when the event cannot be appended', async () => {
    server = await startRedisServer();
    const store = await RedisStore.connect({ url: server.url, keyPrefix: 'broken:' });
    stores.push(store);
    const probe = new Redis(server.url);
    try {
      // A stream entry far ahead of the counter: the script's XADD of id 1-0 must fail.
      await probe.xadd('broken:codespaces:events', '1000-0', 't', 'ADDED', 'o', '{}');
      await expectCode(store.createCodespace(aCodespace({ name: 'half' }), quota), 'INTERNAL');
      expect(await probe.exists('broken:codespace:half')).toBe(0);
      expect(await probe.zcard('broken:codespaces:names')).toBe(0);
    } finally {
      probe.disconnect();
    }
  });

  it('serves many watchers from one subscriber connection', async () => {
    server = await startRedisServer();
    const store = await RedisStore.connect({ url: server.url });
    stores.push(store);
    const iterators = Array.from({ length: 20 }, () => {
      const controller = new AbortController();
      controllers.push(controller);
      return watchIterator(store, { fromResourceVersion: 0, signal: controller.signal });
    });
    const collecting = iterators.map((iterator) => takeEvents(iterator, 1));
    await store.createCodespace(aCodespace(), quota);
    await Promise.all(collecting);
    const probe = new Redis(server.url);
    try {
      const clients = ((await probe.client('LIST')) as string).trim().split('\n');
      // The store's command connection, its one subscriber connection, and this probe.
      expect(clients).toHaveLength(3);
      expect(clients.filter((line) => line.includes('cmd=subscribe'))).toHaveLength(1);
      expect(clients.filter((line) => line.includes('sub=1'))).toHaveLength(1);
    } finally {
      probe.disconnect();
    }
  });
});

describe('the redis-server harness', () => {
  it('refuses loudly when the binary is missing', async () => {
    await expect(startRedisServer({ binary: '/nonexistent/redis-server' })).rejects.toThrow(
      /redis-server not found/,
    );
  });
});
