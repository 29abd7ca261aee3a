import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { anEnsureRequest, startHarness, type Harness } from './agent-harness.js';

const open: Harness[] = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});
async function harness(options: { maxContainers?: number; portStart: number }): Promise<Harness> {
  const h = await startHarness(options);
  open.push(h);
  return h;
}

async function command(
  h: Harness,
  method: 'PUT' | 'POST' | 'DELETE',
  url: string,
  payload?: unknown,
  epoch = 1,
) {
  return h.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${await h.token({ epoch })}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
}

describe('agent commands', () => {
  it('starts a codespace idempotently: a second PUT returns the same container and port', async () => {
    const h = await harness({ portStart: 43_300 });
    const first = await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    expect(first.statusCode).toBe(200);
    const container = first.json().container;
    expect(container).toMatchObject({
      uid: 'uid-1',
      name: 'one',
      owner: 'alice',
      state: 'running',
      generation: 1,
      epoch: 1,
    });
    expect(h.ports.contains(container.hostPort)).toBe(true);
    const second = await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    expect(second.json().container.hostPort).toBe(container.hostPort);
    expect(second.json().container.startedAt).toBe(container.startedAt);
    expect(await h.runtime.list()).toHaveLength(1);
    await h.kv.flush();
    const kv = JSON.parse(await readFile(join(h.dataDir, 'kv.json'), 'utf8'));
    expect(kv.codespaces.one).toMatchObject({ uid: 'uid-1', hostPort: container.hostPort, state: 'running' });
    expect(kv.users.alice).toEqual(['one']);
    expect(kv.freePorts).not.toContain(container.hostPort);
  });

  it('refuses a command from an older leader epoch, also after an agent restart', async () => {
    let h = await harness({ portStart: 43_310 });
    expect(
      (await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }), 5)).statusCode,
    ).toBe(200);
    const stale = await command(h, 'POST', '/v1/codespaces/uid-1/stop', { generation: 1 }, 4);
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'STALE_EPOCH' });
    expect((await command(h, 'DELETE', '/v1/codespaces/uid-1', undefined, 4)).json().code).toBe(
      'STALE_EPOCH',
    );
    expect((await command(h, 'POST', '/v1/drain', undefined, 4)).json().code).toBe('STALE_EPOCH');
    expect((await readFile(join(h.dataDir, 'highest-epoch'), 'utf8')).trim()).toBe('5');
    h = await h.restart();
    open.splice(0, open.length, h);
    const afterRestart = await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }), 4);
    expect(afterRestart.statusCode).toBe(409);
    expect(afterRestart.json().code).toBe('STALE_EPOCH');
    expect((await h.runtime.inspect('uid-1'))?.state).toBe('running');
  });

  it('refuses an older generation than the one the node runs', async () => {
    const h = await harness({ portStart: 43_320 });
    await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one', generation: 3 }));
    const older = await command(
      h,
      'PUT',
      '/v1/codespaces/uid-1',
      anEnsureRequest({ name: 'one', generation: 2 }),
    );
    expect(older.statusCode).toBe(409);
    expect(older.json()).toMatchObject({ code: 'STALE_GENERATION', field: 'generation' });
    expect((await command(h, 'POST', '/v1/codespaces/uid-1/stop', { generation: 2 })).json().code).toBe(
      'STALE_GENERATION',
    );
  });

  it('stopping a stopped or missing codespace and removing a missing one all succeed', async () => {
    const h = await harness({ portStart: 43_330 });
    await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    const stopped = await command(h, 'POST', '/v1/codespaces/uid-1/stop', { generation: 1 });
    expect(stopped.json().container).toMatchObject({ state: 'exited', stopReason: 'User', ready: false });
    expect(stopped.json().container.hostPort).toBeUndefined();
    expect(h.ports.heldCount).toBe(0);
    expect((await command(h, 'POST', '/v1/codespaces/uid-1/stop', { generation: 1 })).statusCode).toBe(200);
    const missing = await command(h, 'POST', '/v1/codespaces/uid-404/stop', { generation: 1 });
    expect(missing.statusCode).toBe(200);
    expect(missing.json()).toEqual({ container: null });
    expect((await command(h, 'DELETE', '/v1/codespaces/uid-404')).statusCode).toBe(200);
    expect((await command(h, 'DELETE', '/v1/codespaces/uid-1')).json()).toEqual({ container: null });
    expect(await h.runtime.list()).toEqual([]);
  });

  it('refuses the codespace beyond maxContainers with 507 NODE_FULL, even when the starts race', async () => {
    const h = await harness({ portStart: 43_340, maxContainers: 3 });
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        command(h, 'PUT', `/v1/codespaces/uid-${i}`, anEnsureRequest({ name: `cs-${i}` })),
      ),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 200, 507, 507]);
    const refused = results.find((r) => r.statusCode === 507)!.json();
    expect(refused).toMatchObject({ code: 'NODE_FULL' });
    expect(refused.message).toMatch(/3 of at most 3 containers/);
    expect((await h.runtime.list()).filter((c) => c.state === 'running')).toHaveLength(3);
    const running = results.find((r) => r.statusCode === 200)!.json().container;
    await command(h, 'POST', `/v1/codespaces/${running.uid}/stop`, { generation: 1 });
    expect(
      (await command(h, 'PUT', '/v1/codespaces/uid-9', anEnsureRequest({ name: 'cs-9' }))).statusCode,
    ).toBe(200);
  });

  it('runs commands for one codespace one at a time: the last command decides', async () => {
    const h = await harness({ portStart: 43_350 });
    const put = command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    // The stop is sent once the start holds the codespace (its port is taken under the lock):
    // sent together, either request could reach the agent first (each signs its token first).
    await eventually(async () => h.ports.heldCount > 0);
    const stop = command(h, 'POST', '/v1/codespaces/uid-1/stop', { generation: 1 });
    const [a, b] = await Promise.all([put, stop]);
    expect(a.statusCode).toBe(200);
    expect(b.json().container.state).toBe('exited');
    expect((await h.runtime.inspect('uid-1'))?.state).toBe('exited');
    expect(h.ports.heldCount).toBe(0);
  });

  it('a draining node takes no new codespace but keeps serving the ones it has', async () => {
    const h = await harness({ portStart: 43_360 });
    await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    expect((await command(h, 'POST', '/v1/drain')).json()).toEqual({ draining: true });
    const refused = await command(h, 'PUT', '/v1/codespaces/uid-2', anEnsureRequest({ name: 'two' }));
    expect(refused.statusCode).toBe(507);
    expect(refused.json().message).toMatch(/draining/);
    expect(
      (await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }))).statusCode,
    ).toBe(200);
  });

  it('a newer generation with the same shape keeps the container; a changed spec recreates it on the same volume', async () => {
    const h = await harness({ portStart: 43_370 });
    const first = (await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }))).json()
      .container;
    const same = (
      await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one', generation: 2 }))
    ).json().container;
    expect(same).toMatchObject({ generation: 2, startedAt: first.startedAt, hostPort: first.hostPort });
    const base = anEnsureRequest({ name: 'one', generation: 3 });
    const changed = await command(h, 'PUT', '/v1/codespaces/uid-1', {
      ...base,
      spec: { ...base.spec, env: { EDITOR: 'vim' } },
    });
    expect(changed.json().container.generation).toBe(3);
    expect((await h.runtime.inspect('uid-1'))?.generation).toBe(3);
    expect(await h.runtime.list()).toHaveLength(1);
  });

  it('an agent restart adopts running workspaces: same port, no second process, KV rebuilt', async () => {
    let h = await harness({ portStart: 43_380 });
    const started = (await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }))).json()
      .container;
    await command(h, 'PUT', '/v1/codespaces/uid-2', anEnsureRequest({ name: 'two' }));
    await command(h, 'POST', '/v1/codespaces/uid-2/stop', { generation: 1 });
    h = await h.restart();
    open.splice(0, open.length, h);
    expect(h.ports.portOf('uid-1')).toBe(started.hostPort);
    expect(h.ports.heldCount).toBe(1);
    expect(h.kv.get('uid-1')).toMatchObject({ state: 'running', hostPort: started.hostPort });
    expect(h.kv.get('uid-2')).toMatchObject({ state: 'exited', stopReason: 'User' });
    const again = (await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }))).json()
      .container;
    expect(again.startedAt).toBe(started.startedAt);
  });

  it('records proxy-reported activity: newest wins, unknown names ignored, future clamped to now', async () => {
    const h = await harness({ portStart: 43_390 });
    await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    const post = (lastActivity: Record<string, string>) =>
      h.app.inject({
        method: 'POST',
        url: '/v1/activity',
        headers: { authorization: `Bearer ${h.proxySecret}` },
        payload: { lastActivity },
      });
    await post({ one: '2030-01-01T00:00:00.000Z', ghost: '2026-01-01T00:00:00.000Z' });
    const clamped = Date.parse(h.kv.get('uid-1')!.lastActivityAt!);
    expect(clamped).toBeLessThanOrEqual(Date.now());
    await post({ one: '2020-01-01T00:00:00.000Z' });
    expect(Date.parse(h.kv.get('uid-1')!.lastActivityAt!)).toBe(clamped);
    expect(h.agent.observed().map((c) => c.name)).toEqual(['one']);
  });
});

describe('agent state follows the runtime', () => {
  it('notices a workspace that died on its own: reports Crashed with its exit code and frees its port', async () => {
    const h = await harness({ portStart: 43_410 });
    await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
    const record = JSON.parse(await readFile(join(h.dataDir, 'processes', 'uid-1.json'), 'utf8'));
    process.kill(-record.pid, 'SIGKILL');
    await eventually(async () => (await h.runtime.inspect('uid-1'))?.state === 'exited');
    const listed = await h.app.inject({
      method: 'GET',
      url: '/v1/codespaces',
      headers: { authorization: `Bearer ${await h.token()}` },
    });
    expect(listed.json().containers).toEqual([
      expect.objectContaining({ uid: 'uid-1', state: 'exited', stopReason: 'Crashed', ready: false }),
    ]);
    expect(h.ports.heldCount).toBe(0);
  });
});

describe('host ports', () => {
  it('skips a pool port another program already listens on', async () => {
    // The squatter takes whatever port the kernel gives it, and the pool starts there: a fixed
    // port could already be in use on a shared machine (as anyone's client socket).
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const squatted = (squatter.address() as AddressInfo).port;
    const h = await harness({ portStart: squatted });
    try {
      const started = await command(h, 'PUT', '/v1/codespaces/uid-1', anEnsureRequest({ name: 'one' }));
      expect(started.statusCode).toBe(200);
      expect(started.json().container.hostPort).toBeGreaterThan(squatted);
      expect(h.ports.holderOf(squatted)).toBeUndefined();
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
