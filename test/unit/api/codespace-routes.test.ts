import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { createBody, startApiHarness, type ApiHarness } from './api-harness.js';

let harness: ApiHarness;
let alice: { authorization: string };
let bob: { authorization: string };
let admin: { authorization: string };

beforeEach(async () => {
  harness = await startApiHarness();
  alice = await harness.authFor('alice');
  bob = await harness.authFor('bob');
  admin = await harness.authFor('root', { admin: true });
});
afterEach(async () => harness.close());

async function create(
  auth: { authorization: string },
  name: string,
  spec: Record<string, unknown> = {},
  labels?: Record<string, string>,
) {
  const response = await harness.app.inject({
    method: 'POST',
    url: '/v1/codespaces',
    headers: auth,
    payload: createBody(name, spec, labels),
  });
  expect(response.statusCode).toBe(201);
  return response.json<Codespace>();
}

/** Puts a codespace on a node, as the reconciler would. */
async function place(name: string, nodeName: string): Promise<Codespace> {
  const current = (await harness.store.getCodespace(name))!;
  return harness.store.updateCodespace(
    { ...current, status: { ...current.status, phase: 'Running', nodeName } },
    { expectedResourceVersion: current.metadata.resourceVersion },
  );
}

describe('POST /v1/codespaces', () => {
  it('creates a codespace with every default filled and answers 201 with Location', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces',
      headers: alice,
      payload: createBody('web'),
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers.location).toBe('/v1/codespaces/web');
    const body = response.json<Codespace>();
    expect(body.metadata).toMatchObject({ name: 'web', owner: 'alice', generation: 1, labels: {} });
    expect(body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(body.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(body.spec).toEqual({
      image: 'codeyard/workspace:latest',
      running: true,
      resources: { cpu: 1, memoryMiB: 2048, diskGiB: 10 },
      idleTimeoutSeconds: 900,
      env: {},
    });
    expect(body.status).toEqual({ phase: 'Pending', conditions: [], observedGeneration: 0 });
    expect(await harness.store.getCodespace('web')).toEqual(body);
  });

  it('keeps what the request gives and fills only the rest', async () => {
    const body = await create(
      alice,
      'api',
      { image: 'ghcr.io/acme/dev:1.2', running: false, resources: { cpu: 2 }, env: { A: 'b' } },
      { team: 'core' },
    );
    expect(body.spec).toMatchObject({
      image: 'ghcr.io/acme/dev:1.2',
      running: false,
      resources: { cpu: 2, memoryMiB: 2048, diskGiB: 10 },
      env: { A: 'b' },
    });
    expect(body.metadata.labels).toEqual({ team: 'core' });
  });

  it('uses the configured default image', async () => {
    await harness.close();
    harness = await startApiHarness({ config: { defaultImage: 'registry.local:5000/ws:dev' } });
    const body = await create(await harness.authFor('alice'), 'img');
    expect(body.spec.image).toBe('registry.local:5000/ws:dev');
  });
});

describe('GET /v1/codespaces', () => {
  it('lists only the caller’s codespaces, with the list resourceVersion', async () => {
    await create(alice, 'a1');
    await create(bob, 'b1');
    await create(alice, 'a2');
    const response = await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: alice });
    expect(response.statusCode).toBe(200);
    const list = response.json<{ kind: string; metadata: { resourceVersion: string }; items: Codespace[] }>();
    expect(list.kind).toBe('CodespaceList');
    expect(list.items.map((c) => c.metadata.name)).toEqual(['a1', 'a2']);
    expect(list.metadata.resourceVersion).toBe(String(await harness.store.currentResourceVersion()));
  });

  it('lets an admin list everyone’s codespaces or filter by owner', async () => {
    await create(alice, 'a1');
    await create(bob, 'b1');
    const all = await harness.app.inject({ method: 'GET', url: '/v1/codespaces', headers: admin });
    expect(all.json<{ items: Codespace[] }>().items.map((c) => c.metadata.name)).toEqual(['a1', 'b1']);
    const bobs = await harness.app.inject({ method: 'GET', url: '/v1/codespaces?owner=bob', headers: admin });
    expect(bobs.json<{ items: Codespace[] }>().items.map((c) => c.metadata.name)).toEqual(['b1']);
  });

  it('filters by label selector', async () => {
    await create(alice, 'x', {}, { app: 'web', team: 'core' });
    await create(alice, 'y', {}, { app: 'web', team: 'edge' });
    await create(alice, 'z', {}, { app: 'db' });
    const response = await harness.app.inject({
      method: 'GET',
      url: '/v1/codespaces?labelSelector=app%3Dweb,team%3Dcore',
      headers: alice,
    });
    expect(response.json<{ items: Codespace[] }>().items.map((c) => c.metadata.name)).toEqual(['x']);
  });

  it('pages with limit and continue', async () => {
    for (const name of ['p1', 'p2', 'p3']) await create(alice, name);
    const first = await harness.app.inject({ method: 'GET', url: '/v1/codespaces?limit=2', headers: alice });
    const page1 = first.json<{ metadata: { continue?: string }; items: Codespace[] }>();
    expect(page1.items.map((c) => c.metadata.name)).toEqual(['p1', 'p2']);
    expect(page1.metadata.continue).toBe('p2');
    const second = await harness.app.inject({
      method: 'GET',
      url: `/v1/codespaces?limit=2&continue=${page1.metadata.continue}`,
      headers: alice,
    });
    const page2 = second.json<{ metadata: { continue?: string }; items: Codespace[] }>();
    expect(page2.items.map((c) => c.metadata.name)).toEqual(['p3']);
    expect(page2.metadata.continue).toBeUndefined();
  });
});

describe('GET /v1/codespaces/{name}', () => {
  it('returns the caller’s codespace, and any codespace to an admin', async () => {
    const created = await create(alice, 'mine');
    const own = await harness.app.inject({ method: 'GET', url: '/v1/codespaces/mine', headers: alice });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual(created);
    const asAdmin = await harness.app.inject({ method: 'GET', url: '/v1/codespaces/mine', headers: admin });
    expect(asAdmin.json()).toEqual(created);
  });

  it('answers 404 for a missing codespace', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/v1/codespaces/nope', headers: alice });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 'CODESPACE_NOT_FOUND', message: 'codespace "nope" not found' });
  });
});

describe('PUT /v1/codespaces/{name}', () => {
  it('replaces spec and labels and bumps generation when the spec changed', async () => {
    const created = await create(alice, 'put1');
    const replacement = {
      ...created,
      metadata: { ...created.metadata, labels: { tier: 'gold' } },
      spec: { ...created.spec, idleTimeoutSeconds: 1800 },
    };
    const response = await harness.app.inject({
      method: 'PUT',
      url: '/v1/codespaces/put1',
      headers: alice,
      payload: replacement,
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<Codespace>();
    expect(body.metadata.generation).toBe(2);
    expect(body.metadata.labels).toEqual({ tier: 'gold' });
    expect(body.spec.idleTimeoutSeconds).toBe(1800);
    expect(Number(body.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
  });

  it('keeps generation when only labels changed, and ignores status sent by the user', async () => {
    const created = await create(alice, 'put2');
    const replacement = {
      ...created,
      metadata: { ...created.metadata, labels: { a: 'b' } },
      status: { ...created.status, phase: 'Running', nodeName: 'evil' },
    };
    const response = await harness.app.inject({
      method: 'PUT',
      url: '/v1/codespaces/put2',
      headers: alice,
      payload: replacement,
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<Codespace>();
    expect(body.metadata.generation).toBe(1);
    expect(body.status).toEqual(created.status);
  });
});

describe('PATCH /v1/codespaces/{name}', () => {
  it('merges spec.running, idleTimeoutSeconds and labels (null removes a label)', async () => {
    await create(alice, 'pat', {}, { keep: 'yes', drop: 'me' });
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/codespaces/pat',
      headers: { ...alice, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({
        spec: { running: false, idleTimeoutSeconds: 600 },
        metadata: { labels: { drop: null, add: 'new' } },
      }),
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<Codespace>();
    expect(body.spec.running).toBe(false);
    expect(body.spec.idleTimeoutSeconds).toBe(600);
    expect(body.metadata.labels).toEqual({ keep: 'yes', add: 'new' });
    expect(body.metadata.generation).toBe(2);
  });

  it('applies a patch whose resourceVersion precondition holds', async () => {
    const created = await create(alice, 'pre');
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/codespaces/pre',
      headers: alice,
      payload: { metadata: { resourceVersion: created.metadata.resourceVersion }, spec: { running: false } },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json<Codespace>().spec.running).toBe(false);
  });

  it('retries compare-and-set internally when another writer got in between', async () => {
    await create(alice, 'race');
    // Another writer (the reconciler) changes status between the API's read and write.
    const store = harness.store;
    const realGet = store.getCodespace.bind(store);
    let interfered = false;
    store.getCodespace = async (name: string) => {
      const read = await realGet(name);
      if (!interfered && read) {
        interfered = true;
        await store.updateCodespace(
          { ...read, status: { ...read.status, phase: 'Scheduled' } },
          { expectedResourceVersion: read.metadata.resourceVersion },
        );
      }
      return read;
    };
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/codespaces/race',
      headers: alice,
      payload: { spec: { running: false } },
    });
    expect(response.statusCode).toBe(200);
    const stored = await realGet('race');
    expect(stored?.spec.running).toBe(false);
    expect(stored?.status.phase).toBe('Scheduled');
  });
});

describe('POST /v1/codespaces/{name}/start and /stop', () => {
  it('flips spec.running and bumps generation; a repeat changes nothing', async () => {
    await create(alice, 'flip');
    const stopped = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/flip/stop',
      headers: alice,
    });
    expect(stopped.statusCode).toBe(200);
    expect(stopped.json<Codespace>().spec.running).toBe(false);
    expect(stopped.json<Codespace>().metadata.generation).toBe(2);
    const again = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/flip/stop',
      headers: alice,
    });
    expect(again.json<Codespace>().metadata.resourceVersion).toBe(
      stopped.json<Codespace>().metadata.resourceVersion,
    );
    const started = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/flip/start',
      headers: { ...alice, 'content-type': 'application/json' },
    });
    expect(started.statusCode).toBe(200);
    expect(started.json<Codespace>().spec.running).toBe(true);
    expect(started.json<Codespace>().metadata.generation).toBe(3);
  });
});

describe('starting a Failed codespace', () => {
  it('is a retry: a new generation even though spec.running was already true', async () => {
    await create(alice, 'broken');
    const current = (await harness.store.getCodespace('broken'))!;
    await harness.store.updateCodespace(
      { ...current, status: { ...current.status, phase: 'Failed' } },
      { expectedResourceVersion: current.metadata.resourceVersion },
    );
    const started = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/broken/start',
      headers: alice,
    });
    expect(started.statusCode).toBe(200);
    expect(started.json<Codespace>().spec.running).toBe(true);
    expect(started.json<Codespace>().metadata.generation).toBe(current.metadata.generation + 1);
  });
});

describe('DELETE /v1/codespaces/{name}', () => {
  it('removes a never-placed codespace at once: 200 with a removed marker', async () => {
    const created = await create(alice, 'gone');
    const response = await harness.app.inject({
      method: 'DELETE',
      url: '/v1/codespaces/gone',
      headers: alice,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ kind: 'Removed', name: 'gone', uid: created.metadata.uid });
    expect(await harness.store.getCodespace('gone')).toBeUndefined();
  });

  it('marks a placed codespace Deleting: 202 with the object', async () => {
    await create(alice, 'placed');
    await place('placed', 'node-a');
    const response = await harness.app.inject({
      method: 'DELETE',
      url: '/v1/codespaces/placed',
      headers: alice,
    });
    expect(response.statusCode).toBe(202);
    const body = response.json<Codespace>();
    expect(body.status.phase).toBe('Deleting');
    expect(body.metadata.deletionTimestamp).toBeDefined();
    const stop = await harness.app.inject({
      method: 'POST',
      url: '/v1/codespaces/placed/start',
      headers: alice,
    });
    expect(stop.statusCode).toBe(409);
    expect(stop.json().code).toBe('CONFLICT');
  });
});
