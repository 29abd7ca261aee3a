import { afterEach, describe, expect, it } from 'vitest';
import { IdleMonitor, isIdlePastTimeout } from '../../../src/node-agent/idle-monitor.js';
import { anEnsureRequest, silentLogger, startHarness, type Harness } from './agent-harness.js';

const t0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const policy = { msPerIdleSecond: 1000 };

describe('isIdlePastTimeout', () => {
  const running = { state: 'running' as const, startedAt: iso(t0), idleTimeoutSeconds: 900 };

  it('counts the start time as activity: a workspace nobody opened gets its full timeout', () => {
    expect(isIdlePastTimeout(running, t0 + 899_000, policy)).toBe(false);
    expect(isIdlePastTimeout(running, t0 + 901_000, policy)).toBe(true);
  });

  it('measures from the latest activity when there is one', () => {
    const active = { ...running, lastActivityAt: iso(t0 + 600_000) };
    expect(isIdlePastTimeout(active, t0 + 1_400_000, policy)).toBe(false);
    expect(isIdlePastTimeout(active, t0 + 1_501_000, policy)).toBe(true);
  });

  it('ignores activity older than the start (a previous run) and never stops what is not running', () => {
    expect(isIdlePastTimeout({ ...running, lastActivityAt: iso(t0 - 10_000_000) }, t0 + 60_000, policy)).toBe(
      false,
    );
    expect(isIdlePastTimeout({ ...running, state: 'exited' }, t0 + 10_000_000, policy)).toBe(false);
  });

  it('stops nothing without a timeout or a time to measure from', () => {
    expect(isIdlePastTimeout({ state: 'running', idleTimeoutSeconds: 1 }, t0, policy)).toBe(false);
    expect(isIdlePastTimeout({ state: 'running', startedAt: iso(t0) }, t0 + 10_000_000, policy)).toBe(false);
  });

  it('scales seconds by the policy (the test knob)', () => {
    expect(isIdlePastTimeout(running, t0 + 9_100, { msPerIdleSecond: 10 })).toBe(true);
  });
});

describe('IdleMonitor', () => {
  let h: Harness | undefined;
  afterEach(async () => h?.close());

  it('stops a workspace idle past its timeout with reason Idle, and leaves an active one running', async () => {
    h = await startHarness({ portStart: 43_450 });
    const token = `Bearer ${await h.token()}`;
    for (const [uid, name] of [
      ['uid-idle', 'idle'],
      ['uid-busy', 'busy'],
    ] as const) {
      await h.app.inject({
        method: 'PUT',
        url: `/v1/codespaces/${uid}`,
        headers: { authorization: token },
        payload: anEnsureRequest({ name }),
      });
    }
    // Both started 20 minutes ago (timeout 15); only `busy` saw a person since.
    for (const uid of ['uid-idle', 'uid-busy']) h.kv.update(uid, { startedAt: iso(Date.now() - 1_200_000) });
    h.agent.recordActivity({ busy: iso(Date.now() - 1_000) });
    const monitor = new IdleMonitor({ agent: h.agent, logger: silentLogger, policy });
    await monitor.checkOnce();
    expect(h.kv.get('uid-idle')).toMatchObject({ state: 'exited', stopReason: 'Idle' });
    expect((await h.runtime.inspect('uid-idle'))?.state).toBe('exited');
    expect(h.kv.get('uid-busy')?.state).toBe('running');
    expect(h.ports.portOf('uid-idle')).toBeUndefined();
  });
});

describe('an idle stop', () => {
  let h: Harness | undefined;
  afterEach(async () => h?.close());

  it('is final for its generation: a start resent at that generation does not wake the workspace, a newer one does', async () => {
    h = await startHarness({ portStart: 43_470 });
    const headers = { authorization: `Bearer ${await h.token()}` };
    const ensure = (generation: number) =>
      h!.app.inject({
        method: 'PUT',
        url: '/v1/codespaces/uid-nap',
        headers,
        payload: anEnsureRequest({ name: 'nap', generation }),
      });
    expect((await ensure(1)).statusCode).toBe(200);
    h.kv.update('uid-nap', { startedAt: iso(Date.now() - 1_200_000) });
    await new IdleMonitor({ agent: h.agent, logger: silentLogger, policy }).checkOnce();
    expect(h.kv.get('uid-nap')).toMatchObject({ state: 'exited', stopReason: 'Idle' });

    expect((await ensure(1)).statusCode).toBe(200);
    expect((await h.runtime.inspect('uid-nap'))?.state).toBe('exited');
    expect(h.kv.get('uid-nap')?.stopReason).toBe('Idle');

    expect((await ensure(2)).statusCode).toBe(200);
    expect((await h.runtime.inspect('uid-nap'))?.state).toBe('running');
  });
});
