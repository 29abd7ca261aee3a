import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { createBody, startApiHarness, type ApiHarness } from './api-harness.js';
import { openWatch } from './sse-client.js';

/** A store outage must answer fast: well under the client timeouts people use. */
const outageAnswerMsMax = 3000;
const recoveryWaitMsMax = 15_000;

let redis: RedisServer;
let harness: ApiHarness;

beforeAll(async () => {
  // AOF with fsync on every write: what was acknowledged before the crash survives it.
  redis = await startRedisServer({ persistence: 'aof' });
  const store = await RedisStore.connect({ url: redis.url, keyPrefix: 'outage-test:' });
  harness = await startApiHarness({ store });
  await harness.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await harness?.close();
  await redis?.stop();
});

async function timed<T>(action: () => Promise<T>): Promise<{ result: T; elapsedMs: number }> {
  const started = Date.now();
  const result = await action();
  return { result, elapsedMs: Date.now() - started };
}

describe('the API over a Redis store that crashes (kill -9) and comes back', () => {
  it('answers 503 STORE_UNAVAILABLE quickly, writes nothing half-way, and recovers by itself', async () => {
    const auth = await harness.authFor('alice');
    const token = auth.authorization.slice('Bearer '.length);
    const port = (harness.app.server.address() as AddressInfo).port;
    const created = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: auth,
      payload: createBody('before'),
    });
    expect(created.statusCode).toBe(201);
    const watchFrom = created.json<Codespace>().metadata.resourceVersion;
    const openBeforeCrash = await openWatch({ port, token, query: `resourceVersion=${watchFrom}` });
    expect(openBeforeCrash.stream.status).toBe(200);

    await redis.kill9();

    const list = await timed(() =>
      harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth }),
    );
    expect(list.result.statusCode).toBe(503);
    expect(list.result.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(list.elapsedMs).toBeLessThan(outageAnswerMsMax);

    const create = await timed(() =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/codespaces',
        headers: auth,
        payload: createBody('during'),
      }),
    );
    expect(create.result.statusCode).toBe(503);
    expect(create.result.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(create.elapsedMs).toBeLessThan(outageAnswerMsMax);

    const watch = await timed(() =>
      harness.app.inject({ method: 'GET', url: '/v1/codespaces?watch=1&resourceVersion=1', headers: auth }),
    );
    expect(watch.result.statusCode).toBe(503);
    expect(watch.result.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(watch.elapsedMs).toBeLessThan(outageAnswerMsMax);

    const ready = await timed(() => harness.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.result.statusCode).toBe(503);
    expect(ready.elapsedMs).toBeLessThan(outageAnswerMsMax);
    expect((await harness.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await redis.restart();

    const deadline = Date.now() + recoveryWaitMsMax;
    let recovered = await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth });
    while (recovered.statusCode !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      recovered = await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth });
    }
    expect(recovered.statusCode).toBe(200);
    // Exactly what was acknowledged: the refused create left nothing behind.
    expect(recovered.json<{ items: Codespace[] }>().items.map((c) => c.metadata.name)).toEqual(['before']);
    expect((await harness.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const after = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: auth,
      payload: createBody('after'),
    });
    expect(after.statusCode).toBe(201);

    // A watcher from before the crash (resuming if its stream ended) sees the new change once.
    let resumed = openBeforeCrash.stream;
    if (resumed.ended) {
      const lastEventId = resumed.events.filter((e) => e.id !== undefined).at(-1)?.id ?? watchFrom;
      resumed = (await openWatch({ port, token, lastEventId })).stream;
    }
    try {
      await resumed.waitFor((events) => events.some((e) => e.event === 'ADDED'), 10_000);
      expect(resumed.changes().map((e) => `${e.event} ${(e.data as Codespace).metadata.name}`)).toEqual([
        'ADDED after',
      ]);
    } finally {
      resumed.close();
      openBeforeCrash.stream.close();
    }
    const metrics = (await harness.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/codeyard_store_errors_total\{code="STORE_UNAVAILABLE"\} [1-9]/);
  });
});
