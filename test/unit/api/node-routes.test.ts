import type { InjectOptions } from 'fastify';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../../src/model/node.js';
import { buildOrchestratorApp } from '../../../src/orchestrator/app.js';
import { ManualClock } from '../../../src/orchestrator/clock.js';
import { orchestratorConfigDefaults } from '../../../src/orchestrator/config.js';
import { createOrchestratorMetrics } from '../../../src/orchestrator/metrics.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { aHeartbeat, anObservedContainer } from '../../support/fixtures.js';
import {
  localFleetSecret,
  otherFleetSecret,
  startApiHarness,
  storeSnapshot,
  type ApiHarness,
} from './api-harness.js';

const startMs = Date.UTC(2026, 10, 1, 12, 0, 0);
let clock: ManualClock;
let harness: ApiHarness;

beforeEach(async () => {
  clock = new ManualClock(startMs);
  harness = await startApiHarness({ clock });
});
afterEach(async () => harness.close());

function beat(body: unknown, options: { name?: string; secret?: string } = {}): InjectOptions {
  const name = options.name ?? (body as { nodeName: string }).nodeName;
  return {
    method: 'POST',
    url: `/v1/nodes/${name}/heartbeat`,
    headers: {
      authorization: `Bearer ${options.secret ?? localFleetSecret}`,
      'content-type': 'application/json',
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

describe('POST /v1/nodes/{name}/heartbeat', () => {
  it('records the beat on the orchestrator’s clock and answers accepted', async () => {
    const heartbeat = aHeartbeat({ nodeName: 'node-a', containers: [anObservedContainer({ name: 'web' })] });
    const response = await harness.app.inject(beat(heartbeat));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ accepted: true });
    const node = await harness.store.getNode('node-a');
    expect(node).toMatchObject({
      name: 'node-a',
      fleet: 'local',
      lastHeartbeatReceivedMs: startMs,
      sequence: 1,
    });
    expect(node?.containers.map((c) => c.name)).toEqual(['web']);
  });

  it('answers the assignments the reconciler provides', async () => {
    await harness.close();
    harness = await startApiHarness({
      clock,
      assignmentsFor: async (nodeName) => ({
        epoch: 7,
        assignments: [{ uid: 'u1', name: `on-${nodeName}`, owner: 'alice', generation: 2, running: true }],
      }),
    });
    const response = await harness.app.inject(beat(aHeartbeat({ nodeName: 'node-b' })));
    expect(response.json()).toEqual({
      accepted: true,
      epoch: 7,
      assignments: [{ uid: 'u1', name: 'on-node-b', owner: 'alice', generation: 2, running: true }],
    });
  });

  it('accepts a beat from another configured fleet with that fleet’s secret', async () => {
    const response = await harness.app.inject(
      beat(aHeartbeat({ nodeName: 'far-1', fleet: 'other' }), { secret: otherFleetSecret }),
    );
    expect(response.statusCode).toBe(200);
    expect((await harness.store.getNode('far-1'))?.fleet).toBe('other');
  });
});

describe('hostile heartbeats change nothing', () => {
  const existing = () => aHeartbeat({ nodeName: 'node-x', bootId: 'boot-1', sequence: 5 });

  interface HostileBeat {
    name: string;
    request: () => InjectOptions;
    status: number;
    code?: string;
    field?: string;
  }
  const cases: HostileBeat[] = [
    {
      name: 'no Authorization header',
      request: () => ({
        ...beat({ ...existing(), sequence: 6 }),
        headers: { 'content-type': 'application/json' },
      }),
      status: 401,
      code: 'UNAUTHENTICATED',
    },
    {
      name: 'a wrong secret',
      request: () => beat({ ...existing(), sequence: 6 }, { secret: 'not-the-secret-at-all-000000' }),
      status: 401,
      code: 'UNAUTHENTICATED',
    },
    {
      name: 'an API-style bearer token',
      request: () => beat({ ...existing(), sequence: 6 }, { secret: 'eyJhbGciOiJFZERTQSJ9.e30.sig' }),
      status: 401,
      code: 'UNAUTHENTICATED',
    },
    {
      name: 'another fleet’s secret for this fleet',
      request: () => beat({ ...existing(), sequence: 6 }, { secret: otherFleetSecret }),
      status: 403,
      code: 'FORBIDDEN',
      field: 'fleet',
    },
    {
      name: 'a node of another fleet taking over this node’s name',
      request: () => beat({ ...existing(), fleet: 'other', sequence: 6 }, { secret: otherFleetSecret }),
      status: 403,
      code: 'FORBIDDEN',
      field: 'nodeName',
    },
    {
      name: 'a body naming another node than the path',
      request: () => beat({ ...existing(), sequence: 6 }, { name: 'node-y' }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'nodeName',
    },
    {
      name: 'a huge containers array',
      request: () =>
        beat({
          ...existing(),
          sequence: 6,
          containers: Array.from({ length: 1001 }, (_, i) => ({
            uid: `u${i}`,
            name: `c${i}`,
            owner: 'o',
            generation: 0,
            epoch: 0,
            state: 'running',
          })),
        }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'containers',
    },
    {
      name: 'a body over the heartbeat size limit',
      request: () => beat({ ...existing(), sequence: 6, sentAt: 'x'.repeat(2 * 1024 * 1024) }),
      status: 413,
      code: 'BODY_TOO_LARGE',
    },
    {
      name: 'a negative sequence',
      request: () => beat({ ...existing(), sequence: -1 }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'sequence',
    },
    {
      name: 'garbage JSON',
      request: () => beat('{"nodeName": "node-x", ', { name: 'node-x' }),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'a __proto__ key (prototype poisoning)',
      request: () =>
        beat(`{"__proto__":{"admin":true},${JSON.stringify({ ...existing(), sequence: 6 }).slice(1)}`, {
          name: 'node-x',
        }),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'a \\u-escaped __proto__ key inside a container',
      request: () =>
        beat(
          JSON.stringify({ ...existing(), sequence: 6, containers: [anObservedContainer()] }).replace(
            '"uid":',
            '"\\u005f_proto__":{"admin":true},"uid":',
          ),
          { name: 'node-x' },
        ),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'a constructor.prototype key',
      request: () =>
        beat(
          `{"constructor":{"prototype":{"admin":true}},${JSON.stringify({ ...existing(), sequence: 6 }).slice(1)}`,
          { name: 'node-x' },
        ),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'an extra field',
      request: () => beat({ ...existing(), sequence: 6, privileged: true }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'privileged',
    },
    {
      name: 'a wrong type',
      request: () => beat({ ...existing(), sequence: '6' }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'sequence',
    },
    {
      name: 'a non-URL agentUrl',
      request: () => beat({ ...existing(), sequence: 6, agentUrl: 'javascript:alert(1)' }),
      status: 422,
      code: 'VALIDATION_FAILED',
      field: 'agentUrl',
    },
    {
      name: 'an invalid node name in the path',
      request: () => beat({ ...existing(), sequence: 6 }, { name: 'bad%20name' }),
      status: 400,
      code: 'INVALID_PARAMETER',
      field: 'name',
    },
    {
      name: 'a container with an unknown state',
      request: () =>
        beat({ ...existing(), sequence: 6, containers: [{ ...anObservedContainer(), state: 'hacked' }] }),
      status: 422,
      code: 'VALIDATION_FAILED',
    },
  ];

  it('has at least 10 cases', () => expect(cases.length).toBeGreaterThanOrEqual(10));

  for (const hostile of cases) {
    it(`refuses ${hostile.name} with ${hostile.status}`, async () => {
      expect((await harness.app.inject(beat(existing()))).statusCode).toBe(200);
      const before = await storeSnapshot(harness.store);
      clock.advanceMs(1000);
      const response = await harness.app.inject(hostile.request());
      expect(response.statusCode).toBe(hostile.status);
      const body = response.json<{ code: string; field?: string }>();
      if (hostile.code) expect(body.code).toBe(hostile.code);
      if (hostile.field) expect(body.field).toBe(hostile.field);
      expect(await storeSnapshot(harness.store)).toEqual(before);
    });
  }

  it('ignores a replayed older sequence: accepted false, stored state unchanged', async () => {
    expect((await harness.app.inject(beat(existing()))).statusCode).toBe(200);
    const before = await storeSnapshot(harness.store);
    clock.advanceMs(1000);
    const replay = await harness.app.inject(beat({ ...existing(), sequence: 4, ready: false }));
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual({ accepted: false });
    const duplicate = await harness.app.inject(beat(existing()));
    expect(duplicate.json()).toEqual({ accepted: false });
    expect(await storeSnapshot(harness.store)).toEqual(before);
  });
});

describe('heartbeat rate limit', () => {
  it('limits each node separately, not the whole fleet that shares a secret', async () => {
    const limited = await startApiHarness({ clock, config: { rateLimitPerSecond: 1, rateLimitBurst: 2 } });
    try {
      for (let sequence = 1; sequence <= 2; sequence += 1) {
        expect(
          (await limited.app.inject(beat(aHeartbeat({ nodeName: 'busy', bootId: 'b', sequence }))))
            .statusCode,
        ).toBe(200);
      }
      const before = await storeSnapshot(limited.store);
      const over = await limited.app.inject(beat(aHeartbeat({ nodeName: 'busy', bootId: 'b', sequence: 3 })));
      expect(over.statusCode).toBe(429);
      expect(over.json().code).toBe('RATE_LIMITED');
      expect(await storeSnapshot(limited.store)).toEqual(before);
      expect((await limited.app.inject(beat(aHeartbeat({ nodeName: 'quiet' })))).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('GET /v1/nodes and cordon', () => {
  it('lists nodes with Ready judged by beat age on the orchestrator clock', async () => {
    const admin = await harness.authFor('root', { admin: true });
    await harness.app.inject(beat(aHeartbeat({ nodeName: 'old' })));
    clock.advanceMs(20_000);
    await harness.app.inject(beat(aHeartbeat({ nodeName: 'new' })));
    const response = await harness.app.inject({ method: 'GET', url: '/v1/nodes', headers: admin });
    expect(response.statusCode).toBe(200);
    const nodes = response.json<{ items: NodeRecord[] }>().items;
    const ready = Object.fromEntries(
      nodes.map((n) => [n.name, n.conditions.find((c) => c.type === 'Ready')]),
    );
    expect(ready.new).toMatchObject({ status: 'True', reason: 'HeartbeatFresh' });
    expect(ready.old).toMatchObject({ status: 'False', reason: 'HeartbeatMissed' });
  });

  it('cordons and uncordons a node; a later heartbeat keeps the cordon', async () => {
    const admin = await harness.authFor('root', { admin: true });
    await harness.app.inject(beat(aHeartbeat({ nodeName: 'c1', bootId: 'b', sequence: 1 })));
    const cordoned = await harness.app.inject({ method: 'POST', url: '/v1/nodes/c1/cordon', headers: admin });
    expect(cordoned.statusCode).toBe(200);
    expect(cordoned.json<NodeRecord>().unschedulable).toBe(true);
    await harness.app.inject(beat(aHeartbeat({ nodeName: 'c1', bootId: 'b', sequence: 2 })));
    expect((await harness.store.getNode('c1'))?.unschedulable).toBe(true);
    const uncordoned = await harness.app.inject({
      method: 'POST',
      url: '/v1/nodes/c1/uncordon',
      headers: admin,
    });
    expect(uncordoned.json<NodeRecord>().unschedulable).toBe(false);
  });

  it('refuses cordon for users and for unknown nodes', async () => {
    await harness.app.inject(beat(aHeartbeat({ nodeName: 'c2' })));
    const user = await harness.app.inject({
      method: 'POST',
      url: '/v1/nodes/c2/cordon',
      headers: await harness.authFor('alice'),
    });
    expect(user.statusCode).toBe(403);
    expect(user.json().code).toBe('FORBIDDEN');
    expect((await harness.store.getNode('c2'))?.unschedulable).toBe(false);
    const unknown = await harness.app.inject({
      method: 'POST',
      url: '/v1/nodes/ghost/cordon',
      headers: await harness.authFor('root', { admin: true }),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NODE_NOT_FOUND');
  });
});

describe('heartbeat logging', () => {
  /** The orchestrator app logging at `level` into an array of parsed lines. */
  async function appLoggingAt(level: string) {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line));
        done();
      },
    });
    const store = new MemoryStore();
    const app = await buildOrchestratorApp({
      store,
      clock,
      keyRing: new SigningKeyRing([await generateSigningKey(Date.now())]),
      config: { ...orchestratorConfigDefaults, fleetJoinSecrets: { local: localFleetSecret } },
      logger: pino({ level }, sink),
      metrics: createOrchestratorMetrics(),
    });
    await app.ready();
    return { app, store, lines };
  }

  it('writes no line per accepted or stale beat at info, and still logs a failing one', async () => {
    const { app, store, lines } = await appLoggingAt('info');
    try {
      const first = aHeartbeat({ nodeName: 'quiet-1', sequence: 2 });
      expect((await app.inject(beat(first))).statusCode).toBe(200);
      expect((await app.inject(beat({ ...first, sequence: 1 }))).json()).toEqual({ accepted: false });
      expect(lines).toEqual([]);

      await store.close();
      const failed = await app.inject(beat({ ...first, sequence: 3 }));
      expect(failed.statusCode).toBe(503);
      expect(lines.map((line) => [line.level, line.msg])).toEqual([[40, 'store unavailable']]);
    } finally {
      await app.close();
    }
  });

  it('writes the access lines and ignored stale beats at debug', async () => {
    const { app, store, lines } = await appLoggingAt('debug');
    try {
      const first = aHeartbeat({ nodeName: 'loud-1', sequence: 2 });
      expect((await app.inject(beat(first))).statusCode).toBe(200);
      expect((await app.inject(beat({ ...first, sequence: 1 }))).statusCode).toBe(200);
      expect(lines.map((line) => line.msg)).toEqual([
        'incoming request',
        'request completed',
        'incoming request',
        'stale heartbeat ignored',
        'request completed',
      ]);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
