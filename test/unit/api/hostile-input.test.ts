import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { issueAccessToken, issueApiToken } from '../../../src/tokens/issue-token.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { createBody, startApiHarness, storeSnapshot, type ApiHarness } from './api-harness.js';

/**
 * Every case: the status, the stable error code (and field where one applies), and a store
 * left exactly as it was.
 */
interface HostileCase {
  name: string;
  request: () => InjectOptions | Promise<InjectOptions>;
  status: number;
  code: string;
  field?: string;
}

let harness: ApiHarness;
let alice: { authorization: string };
let aliceCodespace: Codespace;

beforeAll(async () => {
  harness = await startApiHarness();
  alice = await harness.authFor('alice');
  const bob = await harness.authFor('bob');
  const created = await harness.app.inject({
    method: 'POST',
    url: '/v1/codespaces',
    headers: alice,
    payload: createBody('alice-cs'),
  });
  aliceCodespace = created.json<Codespace>();
  await harness.app.inject({
    method: 'POST',
    url: '/v1/codespaces',
    headers: bob,
    payload: createBody('bob-cs'),
  });
  // Move alice-cs on once, so its resourceVersion "1" is stale.
  await harness.app.inject({ method: 'POST', url: '/v1/codespaces/alice-cs/stop', headers: alice });
});
afterAll(async () => harness.close());

const json = (auth: { authorization: string }) => ({ ...auth, 'content-type': 'application/json' });
const create = (payload: unknown): InjectOptions => ({
  method: 'POST',
  url: '/v1/codespaces',
  headers: json(alice),
  payload: JSON.stringify(payload),
});
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

const cases: HostileCase[] = [
  {
    name: 'malformed JSON',
    request: () => ({
      method: 'POST',
      url: '/v1/codespaces',
      headers: json(alice),
      payload: '{"metadata": {',
    }),
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'prototype-poisoning key',
    request: () => ({
      method: 'POST',
      url: '/v1/codespaces',
      headers: json(alice),
      payload: '{"metadata":{"name":"p"},"spec":{},"__proto__":{"admin":true}}',
    }),
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'empty JSON body on create',
    request: () => ({ method: 'POST', url: '/v1/codespaces', headers: json(alice), payload: '' }),
    status: 422,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'wrong type for spec.running',
    request: () => create(createBody('typed', { running: 'yes' })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.running',
  },
  {
    name: 'number as a string is not coerced',
    request: () => create(createBody('coerce', { resources: { cpu: '2' } })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.resources.cpu',
  },
  {
    name: 'negative cpu',
    request: () => create(createBody('neg', { resources: { cpu: -1 } })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.resources.cpu',
  },
  {
    name: 'huge body',
    request: () => create(createBody('huge', { env: { BIG: 'x'.repeat(70 * 1024) } })),
    status: 413,
    code: 'BODY_TOO_LARGE',
  },
  {
    name: 'non-JSON content type',
    request: () => ({
      method: 'POST',
      url: '/v1/codespaces',
      headers: { ...alice, 'content-type': 'text/plain' },
      payload: 'name=x',
    }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'form content type',
    request: () => ({
      method: 'POST',
      url: '/v1/codespaces',
      headers: { ...alice, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=b',
    }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'upper-case name',
    request: () => create(createBody('Alice')),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: '41-character name',
    request: () => create(createBody('a'.repeat(41))),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: 'control character in name',
    request: () => create(createBody('ab\u0000cd')),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: 'path traversal in name',
    request: () => create(createBody('../etc')),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: 'slash in name',
    request: () => create(createBody('a/b')),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: 'shell metacharacters in image',
    request: () => create(createBody('img', { image: 'ubuntu;rm -rf /' })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.image',
  },
  {
    name: 'invalid env var name',
    request: () => create(createBody('envy', { env: { 'BAD-NAME': 'x' } })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.env.BAD-NAME',
  },
  {
    name: 'unknown top-level field',
    request: () => create({ ...createBody('extra'), status: { phase: 'Running' } }),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'status',
  },
  {
    name: 'unknown spec field',
    request: () => create(createBody('priv', { privileged: true })),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.privileged',
  },
  {
    name: 'server-owned metadata on create',
    request: () => create({ metadata: { name: 'own', owner: 'bob' }, spec: {} }),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.owner',
  },
  {
    name: 'duplicate create',
    request: () => create(createBody('alice-cs')),
    status: 409,
    code: 'CODESPACE_EXISTS',
  },
  {
    name: 'create with a name another user holds',
    request: () => create(createBody('bob-cs')),
    status: 409,
    code: 'CODESPACE_EXISTS',
  },
  {
    name: '.. as the path segment (resolved away: no such route)',
    request: () => ({ method: 'GET', url: '/v1/codespaces/..', headers: alice }),
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'dots in the path name',
    request: () => ({ method: 'GET', url: '/v1/codespaces/a..b', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'name',
  },
  {
    name: 'encoded slash in the name',
    request: () => ({ method: 'DELETE', url: '/v1/codespaces/a%2Fb', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'name',
  },
  {
    name: 'encoded control character in the path',
    request: () => ({ method: 'DELETE', url: '/v1/codespaces/a%00b', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'name',
  },
  {
    name: 'upper-case name in the path',
    request: () => ({ method: 'DELETE', url: '/v1/codespaces/ALICE-CS', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'name',
  },
  {
    name: '41-character name in the path',
    request: () => ({ method: 'POST', url: `/v1/codespaces/${'a'.repeat(41)}/stop`, headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'name',
  },
  {
    name: 'stale resourceVersion on PUT',
    request: () => ({
      method: 'PUT',
      url: '/v1/codespaces/alice-cs',
      headers: json(alice),
      payload: JSON.stringify({
        ...aliceCodespace,
        spec: { ...aliceCodespace.spec, idleTimeoutSeconds: 600 },
      }),
    }),
    status: 409,
    code: 'CONFLICT',
    field: 'metadata.resourceVersion',
  },
  {
    name: 'stale resourceVersion precondition on PATCH',
    request: () => ({
      method: 'PATCH',
      url: '/v1/codespaces/alice-cs',
      headers: json(alice),
      payload: JSON.stringify({ metadata: { resourceVersion: '1' }, spec: { running: true } }),
    }),
    status: 409,
    code: 'CONFLICT',
  },
  {
    name: 'PUT without resourceVersion',
    request: async () => {
      const current = (await harness.store.getCodespace('alice-cs'))!;
      const { resourceVersion: _dropped, ...metadata } = current.metadata;
      return {
        method: 'PUT',
        url: '/v1/codespaces/alice-cs',
        headers: json(alice),
        payload: JSON.stringify({ ...current, metadata }),
      };
    },
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.resourceVersion',
  },
  {
    name: 'PUT that tries to change the owner',
    request: async () => {
      const current = (await harness.store.getCodespace('alice-cs'))!;
      return {
        method: 'PUT',
        url: '/v1/codespaces/alice-cs',
        headers: json(alice),
        payload: JSON.stringify({ ...current, metadata: { ...current.metadata, owner: 'mallory' } }),
      };
    },
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.owner',
  },
  {
    name: 'PUT whose body names another codespace',
    request: async () => {
      const current = (await harness.store.getCodespace('alice-cs'))!;
      return {
        method: 'PUT',
        url: '/v1/codespaces/alice-cs',
        headers: json(alice),
        payload: JSON.stringify({ ...current, metadata: { ...current.metadata, name: 'bob-cs' } }),
      };
    },
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'metadata.name',
  },
  {
    name: 'PATCH of a field that is not patchable',
    request: () => ({
      method: 'PATCH',
      url: '/v1/codespaces/alice-cs',
      headers: json(alice),
      payload: JSON.stringify({ spec: { image: 'evil/image' } }),
    }),
    status: 422,
    code: 'VALIDATION_FAILED',
    field: 'spec.image',
  },
  {
    name: 'reading another user’s codespace',
    request: () => ({ method: 'GET', url: '/v1/codespaces/bob-cs', headers: alice }),
    status: 404,
    code: 'CODESPACE_NOT_FOUND',
  },
  {
    name: 'deleting another user’s codespace',
    request: () => ({ method: 'DELETE', url: '/v1/codespaces/bob-cs', headers: alice }),
    status: 404,
    code: 'CODESPACE_NOT_FOUND',
  },
  {
    name: 'stopping another user’s codespace',
    request: () => ({ method: 'POST', url: '/v1/codespaces/bob-cs/stop', headers: alice }),
    status: 404,
    code: 'CODESPACE_NOT_FOUND',
  },
  {
    name: 'access to another user’s codespace',
    request: () => ({ method: 'POST', url: '/v1/codespaces/bob-cs/access', headers: alice }),
    status: 404,
    code: 'CODESPACE_NOT_FOUND',
  },
  {
    name: 'listing another owner as a user',
    request: () => ({ method: 'GET', url: '/v1/codespaces?owner=bob', headers: alice }),
    status: 403,
    code: 'FORBIDDEN',
    field: 'owner',
  },
  {
    name: 'listing nodes as a user',
    request: () => ({ method: 'GET', url: '/v1/nodes', headers: alice }),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'malformed label selector',
    request: () => ({ method: 'GET', url: '/v1/codespaces?labelSelector=a!b', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'labelSelector',
  },
  {
    name: 'zero page size',
    request: () => ({ method: 'GET', url: '/v1/codespaces?limit=0', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'limit',
  },
  {
    name: 'unknown query parameter',
    request: () => ({ method: 'GET', url: '/v1/codespaces?fieldSelector=x', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'fieldSelector',
  },
  {
    name: 'missing token',
    request: () => ({ ...create(createBody('anon')), headers: { 'content-type': 'application/json' } }),
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'Basic instead of Bearer',
    request: () => ({
      ...create(createBody('basic')),
      headers: { authorization: 'Basic YWxpY2U6cHc=', 'content-type': 'application/json' },
    }),
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'token signed by another key',
    request: async () => {
      const foreign = new SigningKeyRing([await generateSigningKey(Date.now())]);
      return {
        ...create(createBody('forged')),
        headers: json({
          authorization: `Bearer ${await issueApiToken(foreign, { user: 'alice', role: 'admin' })}`,
        }),
      };
    },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'expired token',
    request: async () => {
      const token = await issueApiToken(
        harness.keyRing,
        { user: 'alice', role: 'user' },
        { nowSeconds: nowSeconds() - 3600, ttlSeconds: 60 },
      );
      return { ...create(createBody('expired')), headers: json({ authorization: `Bearer ${token}` }) };
    },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'access token used as an API token',
    request: async () => {
      const token = await issueAccessToken(harness.keyRing, {
        user: 'alice',
        codespace: 'alice-cs',
        audience: 'codeyard-api',
      });
      return { ...create(createBody('wrongkind')), headers: json({ authorization: `Bearer ${token}` }) };
    },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'alg none token',
    request: () => {
      const token = `${base64url({ alg: 'none', typ: 'codeyard-api+jwt' })}.${base64url({ sub: 'alice', role: 'admin', aud: 'codeyard-api', iss: 'codeyard', iat: nowSeconds(), exp: nowSeconds() + 600 })}.`;
      return { ...create(createBody('algnone')), headers: json({ authorization: `Bearer ${token}` }) };
    },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'tampered token payload (user switched to admin)',
    request: async () => {
      const [header, , signature] = (await harness.tokenFor('alice')).split('.');
      const payload = base64url({
        sub: 'alice',
        role: 'admin',
        aud: 'codeyard-api',
        iss: 'codeyard',
        iat: nowSeconds(),
        exp: nowSeconds() + 600,
      });
      return {
        method: 'GET',
        url: '/v1/nodes',
        headers: { authorization: `Bearer ${header}.${payload}.${signature}` },
      };
    },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'watch with a garbage resourceVersion',
    request: () => ({ method: 'GET', url: '/v1/codespaces?watch=1&resourceVersion=abc', headers: alice }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'resourceVersion',
  },
  {
    name: 'watch with a garbage Last-Event-ID',
    request: () => ({
      method: 'GET',
      url: '/v1/codespaces?watch=1',
      headers: { ...alice, 'last-event-id': '12; DROP' },
    }),
    status: 400,
    code: 'INVALID_PARAMETER',
    field: 'Last-Event-ID',
  },
  {
    name: 'unknown route',
    request: () => ({ method: 'GET', url: '/v1/secrets', headers: alice }),
    status: 404,
    code: 'NOT_FOUND',
  },
];

describe('hostile input is refused with a stable code and changes nothing', () => {
  it('has at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  for (const hostile of cases) {
    it(`refuses ${hostile.name} with ${hostile.status} ${hostile.code}`, async () => {
      const before = await storeSnapshot(harness.store);
      const response = await harness.app.inject(await hostile.request());
      expect(response.statusCode).toBe(hostile.status);
      const body = response.json<{ code: string; message: string; field?: string }>();
      expect(body.code).toBe(hostile.code);
      expect(typeof body.message).toBe('string');
      if (hostile.field !== undefined) expect(body.field).toBe(hostile.field);
      expect(await storeSnapshot(harness.store)).toEqual(before);
    });
  }

  it('answers another user’s codespace exactly like a missing one', async () => {
    const other = await harness.app.inject({ method: 'GET', url: '/v1/codespaces/bob-cs', headers: alice });
    const missing = await harness.app.inject({
      method: 'GET',
      url: '/v1/codespaces/no-such-cs',
      headers: alice,
    });
    expect(other.json().message.replace('bob-cs', 'X')).toBe(
      missing.json().message.replace('no-such-cs', 'X'),
    );
    expect(other.statusCode).toBe(missing.statusCode);
  });
});

describe('limits that need their own configuration', () => {
  it('refuses a request over the per-token rate limit with 429 and Retry-After, writing nothing', async () => {
    const limited = await startApiHarness({ config: { rateLimitPerSecond: 1, rateLimitBurst: 3 } });
    try {
      const auth = await limited.authFor('alice');
      for (let i = 0; i < 3; i += 1) {
        expect(
          (await limited.app.inject({ method: 'GET', url: '/v1/codespaces', headers: auth })).statusCode,
        ).toBe(200);
      }
      const before = await storeSnapshot(limited.store);
      const response = await limited.app.inject({
        method: 'POST',
        url: '/v1/codespaces',
        headers: auth,
        payload: createBody('late'),
      });
      expect(response.statusCode).toBe(429);
      expect(response.json().code).toBe('RATE_LIMITED');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
      expect(await storeSnapshot(limited.store)).toEqual(before);
      // Another token has its own budget.
      const other = await limited.authFor('bob');
      expect(
        (await limited.app.inject({ method: 'GET', url: '/v1/codespaces', headers: other })).statusCode,
      ).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('refuses a create over the owner’s quota with 422 QUOTA_EXCEEDED, writing nothing', async () => {
    const quota = await startApiHarness({ config: { maxCodespacesPerOwner: 2 } });
    try {
      const auth = await quota.authFor('alice');
      for (const name of ['q1', 'q2']) {
        expect(
          (
            await quota.app.inject({
              method: 'POST',
              url: '/v1/codespaces',
              headers: auth,
              payload: createBody(name),
            })
          ).statusCode,
        ).toBe(201);
      }
      const before = await storeSnapshot(quota.store);
      const response = await quota.app.inject({
        method: 'POST',
        url: '/v1/codespaces',
        headers: auth,
        payload: createBody('q3'),
      });
      expect(response.statusCode).toBe(422);
      expect(response.json().code).toBe('QUOTA_EXCEEDED');
      expect(await storeSnapshot(quota.store)).toEqual(before);
      // The quota is per owner: bob is not affected.
      const bob = await quota.authFor('bob');
      expect(
        (
          await quota.app.inject({
            method: 'POST',
            url: '/v1/codespaces',
            headers: bob,
            payload: createBody('b1'),
          })
        ).statusCode,
      ).toBe(201);
    } finally {
      await quota.close();
    }
  });
});
