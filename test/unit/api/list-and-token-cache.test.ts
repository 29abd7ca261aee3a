import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { apiAuthenticationHook, principalOf } from '../../../src/api/api-authentication.js';
import { codespaceListJson } from '../../../src/api/list-response.js';
import { listPageSizeMax } from '../../../src/api/codespace-routes.js';
import { VerifiedTokenCache } from '../../../src/api/verified-token-cache.js';
import type { Codespace } from '../../../src/model/codespace.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { aCodespace } from '../../support/fixtures.js';
import { startApiHarness, type ApiHarness } from './api-harness.js';

let harness: ApiHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

interface ListBody {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string };
  items: Codespace[];
}

describe('GET /v1/codespaces (stored JSON written as is)', () => {
  it('lists 10,000 codespaces in one request, each exactly as the store holds it', async () => {
    harness = await startApiHarness();
    const owners = 20;
    for (let index = 0; index < 10_000; index += 1) {
      await harness.store.createCodespace(
        aCodespace({ name: `big-${String(index).padStart(5, '0')}`, owner: `owner-${index % owners}` }),
        { maxPerOwner: 10_000 },
      );
    }
    const admin = await harness.authFor('root', { admin: true });
    const response = await harness.app.inject({
      method: 'GET',
      url: `/v1/codespaces?limit=${listPageSizeMax}`,
      headers: admin,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.json<ListBody>();
    expect(body.apiVersion).toBe('codeyard.dev/v1');
    expect(body.kind).toBe('CodespaceList');
    expect(body.metadata).toEqual({ resourceVersion: '10000' });
    expect(body.items).toHaveLength(10_000);
    expect(body.items).toEqual((await harness.store.listCodespaces()).items);
  });

  it('refuses a page larger than the store returns with 400 INVALID_PARAMETER', async () => {
    harness = await startApiHarness();
    const admin = await harness.authFor('root', { admin: true });
    const response = await harness.app.inject({
      method: 'GET',
      url: `/v1/codespaces?limit=${listPageSizeMax + 1}`,
      headers: admin,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ code: string; field: string }>()).toMatchObject({
      code: 'INVALID_PARAMETER',
      field: 'limit',
    });
  });

  it('keeps owner scoping, selector and paging, with continue in the metadata', async () => {
    harness = await startApiHarness();
    for (const [name, owner, tier] of [
      ['s1', 'alice', 'gold'],
      ['s2', 'bob', 'gold'],
      ['s3', 'alice', 'plain'],
      ['s4', 'alice', 'gold'],
    ] as const) {
      await harness.store.createCodespace(aCodespace({ name, owner, labels: { tier } }), {
        maxPerOwner: 10,
      });
    }
    const alice = await harness.authFor('alice');
    const first = await harness.app.inject({
      method: 'GET',
      url: '/v1/codespaces?labelSelector=tier%3Dgold&limit=1',
      headers: alice,
    });
    const page1 = first.json<ListBody>();
    expect(page1.items.map((item) => item.metadata.name)).toEqual(['s1']);
    expect(page1.metadata.continue).toBe('s1');
    const second = await harness.app.inject({
      method: 'GET',
      url: '/v1/codespaces?labelSelector=tier%3Dgold&limit=1&continue=s1',
      headers: alice,
    });
    const page2 = second.json<ListBody>();
    expect(page2.items.map((item) => item.metadata.name)).toEqual(['s4']);
    expect(page2.metadata.continue).toBeUndefined();
  });

  it('builds a body that parses to the list, with or without continue', () => {
    const items = [aCodespace({ name: 'one' }), aCodespace({ name: 'two' })];
    const json = codespaceListJson({
      items: items.map((item) => JSON.stringify(item)),
      resourceVersion: 7,
      continueAfter: 'two',
    });
    expect(JSON.parse(json)).toEqual({
      apiVersion: 'codeyard.dev/v1',
      kind: 'CodespaceList',
      metadata: { resourceVersion: '7', continue: 'two' },
      items,
    });
    expect(JSON.parse(codespaceListJson({ items: [], resourceVersion: 0 }))).toEqual({
      apiVersion: 'codeyard.dev/v1',
      kind: 'CodespaceList',
      metadata: { resourceVersion: '0' },
      items: [],
    });
  });
});

/** A bare fastify app with only the authentication hook, on a clock the test moves. */
async function authApp(keyRing: SigningKeyRing, clock: { nowMs: number }, cache: VerifiedTokenCache) {
  const app = Fastify();
  app.addHook('preParsing', apiAuthenticationHook(keyRing, { nowMs: () => clock.nowMs, cache }));
  app.setErrorHandler((error: { code?: string }, _request, reply) => {
    void reply.code(401).send({ code: error.code });
  });
  app.get('/whoami', async (request) => principalOf(request));
  await app.ready();
  return app;
}

describe('API token verification cache', () => {
  it('verifies a token once and answers later calls from the cache until the token expires', async () => {
    const nowMs = Date.now();
    const keyRing = new SigningKeyRing([await generateSigningKey(nowMs)]);
    const clock = { nowMs };
    const cache = new VerifiedTokenCache();
    const app = await authApp(keyRing, clock, cache);
    try {
      const token = await issueApiToken(keyRing, { user: 'alice', role: 'user' }, { ttlSeconds: 60 });
      const headers = { authorization: `Bearer ${token}` };
      const first = await app.inject({ method: 'GET', url: '/whoami', headers });
      expect(first.json()).toMatchObject({ user: 'alice', role: 'user' });
      expect(cache.size).toBe(1);
      const again = await app.inject({ method: 'GET', url: '/whoami', headers });
      expect(again.json()).toEqual(first.json());

      // Past `exp` the cache no longer vouches; real verification (on the real clock, which
      // has not reached exp) accepts it again, so check the cache itself forgets it.
      expect(cache.lookup(token, { keys: keyRing.all(), nowMs: nowMs + 61_000 })).toBeUndefined();
      expect(cache.size).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('refuses a cached token once a key rotation drops the key that signed it', async () => {
    const nowMs = Date.now();
    const keyRing = new SigningKeyRing([await generateSigningKey(nowMs - 10_000)]);
    const clock = { nowMs };
    const app = await authApp(keyRing, clock, new VerifiedTokenCache());
    try {
      const token = await issueApiToken(keyRing, { user: 'alice', role: 'user' });
      const headers = { authorization: `Bearer ${token}` };
      expect((await app.inject({ method: 'GET', url: '/whoami', headers })).statusCode).toBe(200);
      keyRing.rotate(await generateSigningKey(nowMs), { nowMs, retainMs: 1 });
      const after = await app.inject({ method: 'GET', url: '/whoami', headers });
      expect(after.statusCode).toBe(401);
      expect(after.json()).toEqual({ code: 'UNAUTHENTICATED' });
    } finally {
      await app.close();
    }
  });

  it('never caches a token that fails verification', async () => {
    const keyRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
    const cache = new VerifiedTokenCache();
    const app = await authApp(keyRing, { nowMs: Date.now() }, cache);
    try {
      const otherRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
      const forged = await issueApiToken(otherRing, { user: 'root', role: 'admin' });
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const response = await app.inject({
          method: 'GET',
          url: '/whoami',
          headers: { authorization: `Bearer ${forged}` },
        });
        expect(response.statusCode).toBe(401);
      }
      expect(cache.size).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('holds at most its capacity, forgetting the oldest token first', () => {
    const cache = new VerifiedTokenCache({ capacity: 2 });
    const keys: readonly unknown[] = [];
    const entry = (user: string) => ({
      principal: { user, role: 'user' as const, tokenKey: user },
      expiresAtMs: 10_000,
      keys,
    });
    cache.remember('t1', entry('a'));
    cache.remember('t2', entry('b'));
    cache.remember('t3', entry('c'));
    expect(cache.size).toBe(2);
    expect(cache.lookup('t1', { keys, nowMs: 0 })).toBeUndefined();
    expect(cache.lookup('t2', { keys, nowMs: 0 })?.user).toBe('b');
    expect(cache.lookup('t3', { keys, nowMs: 0 })?.user).toBe('c');
    expect(cache.lookup('t3', { keys: [], nowMs: 0 })).toBeUndefined();
  });
});
