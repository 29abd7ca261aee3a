import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newCodespaceFrom } from '../../../src/api/codespace-factory.js';
import type { Codespace } from '../../../src/model/codespace.js';
import type { OrchestratorConfig } from '../../../src/orchestrator/config.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import type { Store } from '../../../src/store/store.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { createBody, startApiHarness, type ApiHarness } from './api-harness.js';
import { openWatch, type SseEvent } from './sse-client.js';

let redis: RedisServer | undefined;
let prefixCounter = 0;

interface Backend {
  name: string;
  /** History retained; Redis trims approximately (whole stream nodes), so it needs more churn. */
  compactionChurn: number;
  createStore(options: { historyLimit?: number }): Promise<Store>;
}

const backends: Backend[] = [
  { name: 'MemoryStore', compactionChurn: 20, createStore: async (options) => new MemoryStore(options) },
  {
    name: 'RedisStore',
    compactionChurn: 400,
    createStore: async (options) => {
      redis ??= await startRedisServer();
      prefixCounter += 1;
      return RedisStore.connect({ url: redis.url, keyPrefix: `watch-test-${prefixCounter}:`, ...options });
    },
  },
];

afterAll(async () => {
  await redis?.stop();
});

const changeSummary = (events: SseEvent[]) =>
  events
    .filter((e) => e.event !== 'BOOKMARK')
    .map((e) => `${e.event} ${(e.data as Codespace).metadata.name}`);

describe.each(backends)('watch over Server-Sent Events ($name)', (backend) => {
  let harness: ApiHarness | undefined;
  const streams: Array<{ close(): void }> = [];

  async function listen(options: { historyLimit?: number; config?: Partial<OrchestratorConfig> } = {}) {
    const store = await backend.createStore({
      ...(options.historyLimit ? { historyLimit: options.historyLimit } : {}),
    });
    harness = await startApiHarness({ store, ...(options.config ? { config: options.config } : {}) });
    await harness.app.listen({ host: '127.0.0.1', port: 0 });
    return { harness, port: (harness.app.server.address() as AddressInfo).port };
  }

  async function watch(port: number, token: string, options: { query?: string; lastEventId?: string } = {}) {
    const opened = await openWatch({ port, token, ...options });
    streams.push(opened.stream);
    return opened;
  }

  beforeAll(async () => {
    // Fail loudly (not skip) if Redis cannot start.
    if (backend.name === 'RedisStore') redis ??= await startRedisServer();
  });

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await harness?.close();
    harness = undefined;
  });

  it('delivers every event exactly once and in order across a disconnect resumed with Last-Event-ID', async () => {
    const { harness: h, port } = await listen();
    const token = await h.tokenFor('alice');
    const auth = { authorization: `Bearer ${token}` };
    const list = await h.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth });
    const fromVersion = list.json<{ metadata: { resourceVersion: string } }>().metadata.resourceVersion;

    const first = await watch(port, token, { query: `resourceVersion=${fromVersion}` });
    expect(first.stream.status).toBe(200);
    expect(first.stream.response.headers['content-type']).toContain('text/event-stream');
    await h.app.inject({ method: 'POST', url: '/v1/codespaces', headers: auth, payload: createBody('a1') });
    await h.app.inject({ method: 'POST', url: '/v1/codespaces', headers: auth, payload: createBody('a2') });
    await first.stream.waitFor((events) => changeSummary(events).length >= 2);
    first.stream.close();
    const lastEventId = first.stream.events.at(-1)!.id!;

    // Changes while the client is away.
    await h.app.inject({ method: 'POST', url: '/v1/codespaces/a1/stop', headers: auth });
    await h.app.inject({ method: 'POST', url: '/v1/codespaces', headers: auth, payload: createBody('a3') });
    await h.app.inject({ method: 'DELETE', url: '/v1/codespaces/a2', headers: auth });

    // Last-Event-ID wins over the query: resourceVersion=0 would replay a1 and a2 again.
    const second = await watch(port, token, { query: 'resourceVersion=0', lastEventId });
    await second.stream.waitFor((events) => changeSummary(events).length >= 3);

    const all = [...first.stream.events, ...second.stream.events].filter((e) => e.event !== 'BOOKMARK');
    expect(changeSummary(all)).toEqual(['ADDED a1', 'ADDED a2', 'MODIFIED a1', 'ADDED a3', 'DELETED a2']);
    const ids = all.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map(String)).toEqual(all.map((e) => (e.data as Codespace).metadata.resourceVersion));
  });

  it('answers 410 for a compacted version; the client relists and watches from the list version', async () => {
    const { harness: h, port } = await listen({ historyLimit: 5 });
    const token = await h.tokenFor('alice');
    const auth = { authorization: `Bearer ${token}` };
    let codespace = await h.store.createCodespace(
      newCodespaceFrom(createBody('churn'), {
        owner: 'alice',
        uid: 'u-churn',
        now: new Date().toISOString(),
        defaultImage: 'codeyard/workspace:latest',
      }),
      { maxPerOwner: 10 },
    );
    for (let i = 0; i < backend.compactionChurn; i += 1) {
      codespace = await h.store.updateCodespace(
        { ...codespace, metadata: { ...codespace.metadata, labels: { n: String(i) } } },
        { expectedResourceVersion: codespace.metadata.resourceVersion },
      );
    }
    const tooOld = await watch(port, token, { query: 'resourceVersion=1' });
    expect(tooOld.stream.status).toBe(410);
    expect(tooOld.errorBody).toMatchObject({ code: 'RESOURCE_VERSION_TOO_OLD' });

    const list = await h.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth });
    const relisted = list.json<{ metadata: { resourceVersion: string }; items: Codespace[] }>();
    expect(relisted.items.map((c) => c.metadata.labels.n)).toEqual([String(backend.compactionChurn - 1)]);
    const fresh = await watch(port, token, { query: `resourceVersion=${relisted.metadata.resourceVersion}` });
    expect(fresh.stream.status).toBe(200);
    await h.app.inject({ method: 'POST', url: '/v1/codespaces/churn/stop', headers: auth });
    await fresh.stream.waitFor((events) => changeSummary(events).length >= 1);
    expect(changeSummary(fresh.stream.events)).toEqual(['MODIFIED churn']);
  });

  it('answers 410 for a version the store never reached (a reset store), so the client relists', async () => {
    const { harness: h, port } = await listen();
    const token = await h.tokenFor('alice');
    const ahead = await watch(port, token, { lastEventId: '999999' });
    expect(ahead.stream.status).toBe(410);
    expect(ahead.errorBody).toMatchObject({ code: 'RESOURCE_VERSION_TOO_OLD', field: 'Last-Event-ID' });
  });

  it('sends BOOKMARK events carrying the version the stream has reached', async () => {
    const { harness: h, port } = await listen({ config: { watchBookmarkIntervalMs: 50 } });
    const token = await h.tokenFor('alice');
    await h.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: { authorization: `Bearer ${await h.tokenFor('bob')}` },
      payload: createBody('b1'),
    });
    const opened = await watch(port, token);
    await opened.stream.waitFor((events) => events.filter((e) => e.event === 'BOOKMARK').length >= 3);
    const current = String(await h.store.currentResourceVersion());
    const bookmark = opened.stream.events.filter((e) => e.event === 'BOOKMARK').at(-1)!;
    expect(bookmark.id).toBe(current);
    expect(bookmark.data).toEqual({ resourceVersion: current });
  });

  it('never delivers another user’s events, while an admin sees everyone’s', async () => {
    const { harness: h, port } = await listen({ config: { watchBookmarkIntervalMs: 50 } });
    const aliceToken = await h.tokenFor('alice');
    const bobAuth = { authorization: `Bearer ${await h.tokenFor('bob')}` };
    const aliceWatch = await watch(port, aliceToken);
    const adminWatch = await watch(port, await h.tokenFor('root', { admin: true }));
    await h.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: bobAuth,
      payload: createBody('b1'),
    });
    await h.app.inject({ method: 'POST', url: '/v1/codespaces/b1/stop', headers: bobAuth });
    await h.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: { authorization: `Bearer ${aliceToken}` },
      payload: createBody('a1'),
    });
    await adminWatch.stream.waitFor((events) => changeSummary(events).length >= 3);
    expect(changeSummary(adminWatch.stream.events)).toEqual(['ADDED b1', 'MODIFIED b1', 'ADDED a1']);
    await aliceWatch.stream.waitFor((events) => changeSummary(events).includes('ADDED a1'));
    // A bookmark after bob's changes proves they were passed over, not merely not yet sent.
    const a1Version = Number(await h.store.getCodespace('a1').then((c) => c!.metadata.resourceVersion));
    await aliceWatch.stream.waitFor((events) =>
      events.some((e) => e.event === 'BOOKMARK' && Number(e.id) >= a1Version),
    );
    expect(changeSummary(aliceWatch.stream.events)).toEqual(['ADDED a1']);
    expect(aliceWatch.stream.changes().every((e) => (e.data as Codespace).metadata.owner === 'alice')).toBe(
      true,
    );
  });
});

describe('watch limits (MemoryStore)', () => {
  let harness: ApiHarness | undefined;
  const streams: Array<{ close(): void }> = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await harness?.close();
    harness = undefined;
  });

  async function listen(config: Partial<OrchestratorConfig>) {
    harness = await startApiHarness({ config });
    await harness.app.listen({ host: '127.0.0.1', port: 0 });
    return { h: harness, port: (harness.app.server.address() as AddressInfo).port };
  }

  it('cuts off a client that stops reading, ends its stream, and lets it resume without loss', async () => {
    const { h, port } = await listen({ watchBufferLimit: 5 });
    const token = await h.tokenFor('alice');
    const slow = await openWatch({ port, token });
    streams.push(slow.stream);
    slow.stream.pause();
    const eventCount = 60;
    // ~240 KiB per event: far more than loopback socket buffers hold while the client is paused.
    const bigEnv = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`VAR_${i}`, 'x'.repeat(4000)]));
    for (let i = 0; i < eventCount; i += 1) {
      const codespace = newCodespaceFrom(createBody(`big-${String(i).padStart(2, '0')}`, { env: bigEnv }), {
        owner: 'alice',
        uid: `u-${i}`,
        now: new Date().toISOString(),
        defaultImage: 'codeyard/workspace:latest',
      });
      await h.store.createCodespace(codespace, { maxPerOwner: 1000 });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    slow.stream.resume();
    await slow.stream.waitForEnd(10_000);
    const firstPart = slow.stream.changes();
    expect(firstPart.length).toBeLessThan(eventCount);

    const resumed = await openWatch({ port, token, lastEventId: slow.stream.events.at(-1)!.id! });
    streams.push(resumed.stream);
    await resumed.stream.waitFor(
      () => firstPart.length + resumed.stream.changes().length >= eventCount,
      10_000,
    );
    const names = [...firstPart, ...resumed.stream.changes()].map((e) => (e.data as Codespace).metadata.name);
    expect(names).toEqual(Array.from({ length: eventCount }, (_, i) => `big-${String(i).padStart(2, '0')}`));
  });

  it('caps concurrent watches per token with 429, and frees the slot when a stream closes', async () => {
    const { h, port } = await listen({ watchesPerTokenMax: 2 });
    const token = await h.tokenFor('alice');
    const one = await openWatch({ port, token });
    const two = await openWatch({ port, token });
    streams.push(one.stream, two.stream);
    const three = await openWatch({ port, token });
    expect(three.stream.status).toBe(429);
    expect(three.errorBody).toMatchObject({ code: 'RATE_LIMITED' });
    // Same user, another token (a different expiry makes a different JWT): its own budget.
    const secondToken = await issueApiToken(h.keyRing, { user: 'alice', role: 'user' }, { ttlSeconds: 7200 });
    const otherToken = await openWatch({ port, token: secondToken });
    streams.push(otherToken.stream);
    expect(otherToken.stream.status).toBe(200);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('codeyard_watchers 3');
    one.stream.close();
    const deadline = Date.now() + 5000;
    let again = await openWatch({ port, token });
    while (again.stream.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      again = await openWatch({ port, token });
    }
    streams.push(again.stream);
    expect(again.stream.status).toBe(200);
  });

  it('ends open streams when the app closes', async () => {
    const { h, port } = await listen({});
    const opened = await openWatch({ port, token: await h.tokenFor('alice') });
    streams.push(opened.stream);
    await h.app.close();
    await opened.stream.waitForEnd(5000);
    expect(opened.stream.ended).toBe(true);
  });
});
