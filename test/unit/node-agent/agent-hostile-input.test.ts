import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  issueAccessToken,
  nodeAudience,
  SigningKeyRing,
} from '../../../src/tokens/index.js';
import { anEnsureRequest, startHarness, type Harness } from './agent-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ portStart: 43_400 });
});
afterAll(() => h.close());

async function put(uid: string, body: unknown, token?: string) {
  return h.app.inject({
    method: 'PUT',
    url: `/v1/codespaces/${uid}`,
    headers: {
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function expectError(
  response: { statusCode: number; json: () => unknown },
  status: number,
  code: string,
): void {
  expect(response.statusCode).toBe(status);
  expect(response.json()).toMatchObject({ code, message: expect.any(String) });
}

describe('agent API under hostile input', () => {
  it('refuses a command without a token', async () => {
    expectError(await put('uid-a', anEnsureRequest({ name: 'a' })), 401, 'UNAUTHENTICATED');
  });

  it('refuses a token signed by a key the orchestrator never published', async () => {
    const forger = new SigningKeyRing([await generateSigningKey(Date.now())]);
    expectError(
      await put('uid-a', anEnsureRequest({ name: 'a' }), await h.token({ ring: forger })),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('refuses a token minted for another node', async () => {
    const token = await h.token({ audience: nodeAudience('some-other-node') });
    const response = await put('uid-a', anEnsureRequest({ name: 'a' }), token);
    expectError(response, 401, 'UNAUTHENTICATED');
    expect(response.json().message).toMatch(/aud/);
  });

  it('refuses an expired token', async () => {
    const response = await put('uid-a', anEnsureRequest({ name: 'a' }), await h.token({ ttlSeconds: -60 }));
    expectError(response, 401, 'UNAUTHENTICATED');
    expect(response.json().message).toMatch(/expired/);
  });

  it('refuses a user access token (wrong kind) even with the right audience', async () => {
    const token = await issueAccessToken(h.ring, {
      user: 'mallory',
      codespace: 'a',
      audience: nodeAudience(h.nodeName),
    });
    expectError(await put('uid-a', anEnsureRequest({ name: 'a' }), token), 401, 'UNAUTHENTICATED');
  });

  it('refuses an unsigned (alg none) token and plain garbage', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'codeyard-agent+jwt' })).toString(
      'base64url',
    );
    const claims = Buffer.from(
      JSON.stringify({ aud: nodeAudience(h.nodeName), epoch: 99, iss: 'codeyard' }),
    ).toString('base64url');
    expectError(
      await put('uid-a', anEnsureRequest({ name: 'a' }), `${header}.${claims}.`),
      401,
      'UNAUTHENTICATED',
    );
    expectError(await put('uid-a', anEnsureRequest({ name: 'a' }), 'not a jwt'), 401, 'UNAUTHENTICATED');
  });

  it('refuses a uid with path characters', async () => {
    const token = await h.token();
    for (const uid of ['..%2F..%2Fetc', 'a.b', '%00x', '-leading', 'x'.repeat(65)]) {
      const response = await put(uid, anEnsureRequest({ name: 'a' }), token);
      expect([404, 422]).toContain(response.statusCode);
      expect(response.json().code).toMatch(/VALIDATION_FAILED|NOT_FOUND/);
    }
    expect(await h.runtime.list()).toEqual([]);
  });

  it('refuses a body over the size limit with 413', async () => {
    const huge = anEnsureRequest({
      name: 'a',
      spec: { ...anEnsureRequest({ name: 'a' }).spec, env: { BIG: 'x'.repeat(1024 * 1024) } },
    });
    expectError(await put('uid-a', huge, await h.token()), 413, 'BODY_TOO_LARGE');
  });

  it('refuses wrong types without coercing them', async () => {
    const response = await put(
      'uid-a',
      { ...anEnsureRequest({ name: 'a' }), generation: '2' },
      await h.token(),
    );
    expectError(response, 422, 'VALIDATION_FAILED');
    expect(response.json().field).toBe('generation');
  });

  it('refuses unknown fields instead of silently dropping them', async () => {
    const body = { ...anEnsureRequest({ name: 'a' }), privileged: true };
    const response = await put('uid-a', body, await h.token());
    expectError(response, 422, 'VALIDATION_FAILED');
    expect(response.json().field).toBe('privileged');
  });

  it('refuses an image reference that is not a plain reference, and an env name with shell characters', async () => {
    const base = anEnsureRequest({ name: 'a' });
    const badImage = await put(
      'uid-a',
      { ...base, spec: { ...base.spec, image: 'x; rm -rf /' } },
      await h.token(),
    );
    expectError(badImage, 422, 'VALIDATION_FAILED');
    expect(badImage.json().field).toBe('spec.image');
    const badEnv = await put(
      'uid-a',
      { ...base, spec: { ...base.spec, env: { 'A=B;': 'x' } } },
      await h.token(),
    );
    expectError(badEnv, 422, 'VALIDATION_FAILED');
  });

  it('answers malformed JSON with 400 INVALID_JSON and keeps serving', async () => {
    expectError(await put('uid-a', '{"name": ', await h.token()), 400, 'INVALID_JSON');
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('refuses a negative or fractional epoch claim', async () => {
    expectError(
      await put('uid-a', anEnsureRequest({ name: 'a' }), await h.token({ epoch: -1 })),
      401,
      'UNAUTHENTICATED',
    );
    expectError(
      await put('uid-a', anEnsureRequest({ name: 'a' }), await h.token({ epoch: 1.5 })),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('accepts activity only from loopback with the proxy secret', async () => {
    const report = { lastActivity: {} };
    const wrongSecret = await h.app.inject({
      method: 'POST',
      url: '/v1/activity',
      headers: { authorization: 'Bearer nope' },
      payload: report,
    });
    expectError(wrongSecret, 401, 'UNAUTHENTICATED');
    const remote = await h.app.inject({
      method: 'POST',
      url: '/v1/activity',
      remoteAddress: '10.0.0.8',
      headers: { authorization: `Bearer ${h.proxySecret}` },
      payload: report,
    });
    expectError(remote, 403, 'FORBIDDEN');
    const agentToken = await h.app.inject({
      method: 'POST',
      url: '/v1/activity',
      headers: { authorization: `Bearer ${await h.token()}` },
      payload: report,
    });
    expectError(agentToken, 401, 'UNAUTHENTICATED');
    const ok = await h.app.inject({
      method: 'POST',
      url: '/v1/activity',
      headers: { authorization: `Bearer ${h.proxySecret}` },
      payload: report,
    });
    expect(ok.statusCode).toBe(200);
  });

  it('answers unknown routes with a JSON 404', async () => {
    expectError(await h.app.inject({ method: 'GET', url: '/v1/secrets' }), 404, 'NOT_FOUND');
  });
});
