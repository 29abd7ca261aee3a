import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeartbeatResponse } from '../../../src/model/agent-protocol.js';
import type { Heartbeat } from '../../../src/model/node.js';
import { convergeToAssignments } from '../../../src/node-agent/converge.js';
import { buildHeartbeat } from '../../../src/node-agent/heartbeat-body.js';
import { HeartbeatClient } from '../../../src/node-agent/heartbeat-client.js';
import { anEnsureRequest, silentLogger, startHarness, type Harness } from './agent-harness.js';

interface FakeOrchestrator {
  url: string;
  beats: { auth: string | undefined; body: Heartbeat }[];
  respond: (beat: Heartbeat) => HeartbeatResponse;
  close(): Promise<void>;
}

/** A loopback HTTP server standing in for the orchestrator's heartbeat endpoint. */
async function fakeOrchestrator(port = 0): Promise<FakeOrchestrator> {
  const fake: FakeOrchestrator = {
    url: '',
    beats: [],
    respond: () => ({ accepted: true }),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as Heartbeat;
      fake.beats.push({ auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(fake.respond(body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function clientFor(h: Harness, fake: { url: string }, over: { intervalMs?: number; grace?: number } = {}) {
  const client = new HeartbeatClient({
    orchestratorUrl: fake.url,
    nodeName: h.nodeName,
    joinSecret: 'join-secret-0123456789',
    intervalMs: over.intervalMs ?? 60_000,
    logger: silentLogger,
    build: () =>
      buildHeartbeat({
        agent: h.agent,
        runtime: h.runtime,
        fleet: 'local',
        bootId: 'boot-1',
        agentUrl: 'http://127.0.0.1:1',
        proxyUrl: 'http://127.0.0.1:2',
        capacity: { slots: 20, cpu: 4, memoryMiB: 8192 },
        workspaceImage: 'codeyard/test-workspace:latest',
        refresh: async () => undefined,
      }),
    onResponse: async (r) => {
      if (r.assignments && r.epoch !== undefined) {
        await convergeToAssignments({ agent: h.agent, logger: silentLogger }, r.assignments, r.epoch);
      }
    },
  });
  cleanups.push(() => client.stop());
  return client;
}

describe('HeartbeatClient', () => {
  it('posts the full observed state with the join secret, a fixed boot id and a rising sequence', async () => {
    const h = await startHarness({ portStart: 43_460 });
    cleanups.push(() => h.close());
    const fake = await fakeOrchestrator();
    cleanups.push(() => fake.close());
    await h.app.inject({
      method: 'PUT',
      url: '/v1/codespaces/uid-1',
      headers: { authorization: `Bearer ${await h.token({ epoch: 2 })}` },
      payload: anEnsureRequest({ name: 'one' }),
    });
    const client = clientFor(h, fake);
    client.start();
    await until(() => fake.beats.length >= 1);
    client.poke();
    await until(() => fake.beats.length >= 2);
    const [first, second] = fake.beats;
    expect(first!.auth).toBe('Bearer join-secret-0123456789');
    expect(first!.body).toMatchObject({
      nodeName: h.nodeName,
      bootId: 'boot-1',
      highestEpoch: 2,
      draining: false,
      ready: true,
    });
    expect(first!.body.capacity).toEqual({ slots: 20, cpu: 4, memoryMiB: 8192 });
    expect(first!.body.allocatable).toEqual({ slots: 19, cpu: 3.75, memoryMiB: 8192 - 256 });
    expect(first!.body.containers).toEqual([
      expect.objectContaining({ uid: 'uid-1', name: 'one', state: 'running', epoch: 2 }),
    ]);
    expect(first!.body.volumes).toEqual(['uid-1']);
    expect(second!.body.sequence).toBeGreaterThan(first!.body.sequence);
  });

  it('coalesces a burst of changes into one or two beats', async () => {
    const h = await startHarness({ portStart: 43_470 });
    cleanups.push(() => h.close());
    const fake = await fakeOrchestrator();
    cleanups.push(() => fake.close());
    const client = clientFor(h, fake);
    client.start();
    await until(() => fake.beats.length >= 1);
    for (let i = 0; i < 20; i += 1) client.poke();
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.beats.length).toBeGreaterThanOrEqual(2);
    expect(fake.beats.length).toBeLessThanOrEqual(3);
  });

  it('keeps retrying while the orchestrator is unreachable and gets through once it is back', async () => {
    const h = await startHarness({ portStart: 43_480 });
    cleanups.push(() => h.close());
    const probe = await fakeOrchestrator();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const client = clientFor(h, { url: `http://127.0.0.1:${port}` }, { intervalMs: 1_000 });
    client.start();
    await new Promise((r) => setTimeout(r, 700));
    const fake = await fakeOrchestrator(port);
    cleanups.push(() => fake.close());
    await until(() => fake.beats.length >= 1, 3_000);
    expect(fake.beats[0]!.body.sequence).toBeGreaterThan(1);
  });

  it('stops (keeping the volume) only an old container nobody assigns, and only for a current leader', async () => {
    const h = await startHarness({ portStart: 43_490 });
    cleanups.push(() => h.close());
    const token = `Bearer ${await h.token({ epoch: 3 })}`;
    for (const [uid, name] of [
      ['uid-kept', 'kept'],
      ['uid-orphan', 'orphan'],
    ] as const) {
      await h.app.inject({
        method: 'PUT',
        url: `/v1/codespaces/${uid}`,
        headers: { authorization: token },
        payload: anEnsureRequest({ name }),
      });
      h.kv.update(uid, { startedAt: new Date(Date.now() - 120_000).toISOString() });
    }
    const fake = await fakeOrchestrator();
    cleanups.push(() => fake.close());
    const kept = { uid: 'uid-kept', name: 'kept', owner: 'alice', generation: 1, running: true };
    fake.respond = () => ({ accepted: true, epoch: 2, assignments: [kept] });
    const client = clientFor(h, fake);
    expect(await client.beatOnce()).toBe(true);
    expect(h.kv.get('uid-orphan')?.state).toBe('running');
    fake.respond = () => ({ accepted: true, epoch: 3, assignments: [kept] });
    await client.beatOnce();
    expect(h.kv.get('uid-orphan')).toMatchObject({ state: 'exited', stopReason: 'NodeLost' });
    expect(h.kv.get('uid-kept')?.state).toBe('running');
    expect(await h.runtime.listVolumes()).toContain('uid-orphan');
  });
});
