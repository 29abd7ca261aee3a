import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { verifyToken } from '../../../src/tokens/verify-token.js';
import { aHeartbeat } from '../../support/fixtures.js';
import { createBody, localFleetSecret, startApiHarness, type ApiHarness } from './api-harness.js';

let harness: ApiHarness;
let alice: { authorization: string };

async function runningCodespace(
  h: ApiHarness,
  name: string,
  nodeName: string,
  proxyUrl: string,
): Promise<void> {
  await h.app.inject({
    method: 'POST',
    url: `/v1/nodes/${nodeName}/heartbeat`,
    headers: { authorization: `Bearer ${localFleetSecret}` },
    payload: aHeartbeat({ nodeName, proxyUrl }),
  });
  const created = await h.app.inject({
    method: 'POST',
    url: '/v1/codespaces',
    headers: await h.authFor('alice'),
    payload: createBody(name),
  });
  const codespace = created.json<Codespace>();
  await h.store.updateCodespace(
    { ...codespace, status: { ...codespace.status, phase: 'Running', nodeName } },
    { expectedResourceVersion: codespace.metadata.resourceVersion },
  );
}

beforeEach(async () => {
  harness = await startApiHarness();
  alice = await harness.authFor('alice');
});
afterEach(async () => harness.close());

describe('POST /v1/codespaces/{name}/access', () => {
  it('gives the owner a path-mode URL and an access token for that node', async () => {
    await runningCodespace(harness, 'web', 'node-a', 'http://127.0.0.1:40001');
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/web/access',
      headers: alice,
    });
    expect(response.statusCode).toBe(200);
    const grant = response.json<{ url: string; token: string; expiresAt: string }>();
    expect(grant.url).toBe(`http://127.0.0.1:40001/cs/web/?codeyard_token=${grant.token}`);
    const claims = await verifyToken(grant.token, {
      kind: 'access',
      audience: 'node:node-a',
      keys: harness.keyRing.jwks(),
    });
    expect(claims).toMatchObject({ sub: 'alice', cs: 'web', aud: 'node:node-a' });
    expect(Date.parse(grant.expiresAt)).toBe(claims.exp! * 1000);
    // An access token is not an API token.
    const misuse = await harness.app.inject({
      method: 'GET',
      url: '/v1/codespaces',
      headers: { authorization: `Bearer ${grant.token}` },
    });
    expect(misuse.statusCode).toBe(401);
  });

  it('builds a subdomain URL in subdomain mode, and lets an admin open it for the owner', async () => {
    await harness.close();
    harness = await startApiHarness({ config: { routingMode: 'subdomain' } });
    await runningCodespace(harness, 'web', 'node-a', 'http://localhost:40001');
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/web/access',
      headers: await harness.authFor('root', { admin: true }),
    });
    expect(response.statusCode).toBe(200);
    const grant = response.json<{ url: string; token: string }>();
    expect(grant.url).toBe(`http://web.localhost:40001/?codeyard_token=${grant.token}`);
    const claims = await verifyToken(grant.token, {
      kind: 'access',
      audience: 'node:node-a',
      keys: harness.keyRing.jwks(),
    });
    expect(claims.sub).toBe('alice');
  });

  it('answers 409 CODESPACE_NOT_RUNNING for a codespace that is not Running', async () => {
    await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: alice,
      payload: createBody('pending'),
    });
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/pending/access',
      headers: alice,
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'CODESPACE_NOT_RUNNING' });
    expect(response.json().message).toContain('Pending');
  });
});

describe('system endpoints', () => {
  it('publishes the public key set without private parts', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/v1/jwks.json' });
    expect(response.statusCode).toBe(200);
    const keys = response.json<{ keys: Record<string, unknown>[] }>().keys;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: harness.keyRing.active.kid });
    expect(keys[0]).not.toHaveProperty('d');
    expect(response.headers['cache-control']).toContain('max-age');
  });

  it('answers /healthz always and /readyz only while the store answers', async () => {
    expect((await harness.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await harness.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await harness.store.close();
    const down = await harness.app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json().code).toBe('STORE_UNAVAILABLE');
    expect((await harness.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const api = await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: alice });
    expect(api.statusCode).toBe(503);
    expect(api.json().code).toBe('STORE_UNAVAILABLE');
  });

  it('exports request counts by route template, the watchers gauge and store errors', async () => {
    await harness.app.inject({ method: 'GET', url: '/v1/codespaces/nope', headers: alice });
    await harness.store.close();
    await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: alice });
    const metrics = (await harness.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(
      'codeyard_http_requests_total{method="GET",route="/v1/codespaces/:name",status="404"} 1',
    );
    expect(metrics).toContain('codeyard_http_request_duration_seconds_bucket');
    expect(metrics).toContain('codeyard_watchers 0');
    expect(metrics).toContain('codeyard_store_errors_total{code="STORE_UNAVAILABLE"} 1');
  });

  it('serves an OpenAPI document generated from the route schemas, and the docs page', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }
        >
      >;
    }>();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/v1/codespaces',
        '/v1/codespaces/{name}',
        '/v1/codespaces/{name}/access',
        '/v1/nodes/{name}/heartbeat',
        '/v1/jwks.json',
      ]),
    );
    const createSchema =
      document.paths['/v1/codespaces']!.post!.requestBody!.content['application/json']!.schema;
    expect(Object.keys(createSchema.properties)).toEqual(['metadata', 'spec']);
    const docs = await harness.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });
});
