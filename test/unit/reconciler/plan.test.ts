import { describe, expect, it } from 'vitest';
import type { Codespace, Condition } from '../../../src/model/codespace.js';
import type { NodeRecord } from '../../../src/model/node.js';
import { reconcilerConfigDefaults as config } from '../../../src/reconciler/config.js';
import type { JudgedNode, NodeHealth } from '../../../src/reconciler/node-health.js';
import { planCodespace, type Plan } from '../../../src/reconciler/plan.js';
import { planInputFor } from '../../../src/reconciler/snapshot.js';
import { aCodespace, aNode, anObservedContainer, fixtureEpochMs } from '../../support/fixtures.js';

const t0 = fixtureEpochMs;
const iso = (ms: number): string => new Date(ms).toISOString();

function judged(record: NodeRecord, health: NodeHealth = 'Ready'): JudgedNode {
  return { name: record.name, record, health };
}

function plan(
  codespace: Codespace,
  nodes: readonly JudgedNode[],
  options: { nowMs?: number; others?: Codespace[] } = {},
): Plan {
  return planCodespace(
    planInputFor({
      codespace,
      nodes,
      codespaces: [codespace, ...(options.others ?? [])],
      nowMs: options.nowMs ?? t0,
      config,
    }),
  );
}

function condition(p: Plan, type: string): Condition | undefined {
  return p.status.conditions.find((c) => c.type === type);
}

function since(type: string, reason: string, ms: number, status: Condition['status'] = 'True'): Condition {
  return { type, status, reason, message: '', lastTransitionTime: iso(ms) };
}

const running = (uid: string, overrides: Parameters<typeof anObservedContainer>[0] = {}) =>
  anObservedContainer({ uid, state: 'running', ready: true, generation: 1, ...overrides });

describe('planCodespace: placing and starting', () => {
  it('places a pending codespace on a ready node and records it before any command', () => {
    const cs = aCodespace({ name: 'web', uid: 'u1' });
    const n1 = aNode({ name: 'n1', proxyUrl: 'http://127.0.0.1:4001' });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([{ kind: 'place', nodeName: 'n1' }]);
    expect(p.status.phase).toBe('Scheduled');
    expect(p.status.nodeName).toBe('n1');
    expect(p.status.url).toBe('http://127.0.0.1:4001/cs/web/');
    expect(condition(p, 'Scheduled')).toMatchObject({
      status: 'True',
      reason: 'Placed',
      message: 'placed on node n1',
    });
    expect(p.requeueAfterMs).toBe(0);
    expect(p.status.observedGeneration).toBe(1);
  });

  it('explains why no node can take it and looks again later', () => {
    const cs = aCodespace({ uid: 'u1', resources: { cpu: 4 } });
    const n1 = aNode({ name: 'n1', capacity: { cpu: 2 } });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([]);
    expect(p.status.phase).toBe('Pending');
    expect(condition(p, 'Scheduled')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    expect(condition(p, 'Scheduled')?.message).toContain('1 short of cpu');
    expect(p.requeueAfterMs).toBe(config.unschedulableRetryMs);
  });

  it('never places on a node that is silent by our clock, even if it reported ready', () => {
    const cs = aCodespace({ uid: 'u1' });
    const p = plan(cs, [judged(aNode({ name: 'n1' }), 'NotReady')]);
    expect(p.actions).toEqual([]);
    expect(condition(p, 'Scheduled')).toMatchObject({ reason: 'NoReadyNodes' });
  });

  it('counts codespaces already assigned to a node so two placements never overcommit it', () => {
    const n1 = aNode({ name: 'n1', capacity: { slots: 1 } });
    const n2 = aNode({ name: 'n2', capacity: { slots: 1 } });
    const other = aCodespace({ uid: 'u0', phase: 'Scheduled', nodeName: 'n1' });
    const p = plan(aCodespace({ uid: 'u1' }), [judged(n1), judged(n2)], { others: [other] });
    expect(p.actions).toEqual([{ kind: 'place', nodeName: 'n2' }]);
  });

  it('prefers the node that holds a stopped codespace volume', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Stopped', volumeNodeName: 'n2' });
    const p = plan(cs, [judged(aNode({ name: 'n1' })), judged(aNode({ name: 'n2' }))]);
    expect(p.actions).toEqual([{ kind: 'place', nodeName: 'n2' }]);
  });

  it('asks the assigned node to start the container when it reports none', () => {
    const cs = aCodespace({
      uid: 'u1',
      phase: 'Scheduled',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Scheduled', t0)] },
    });
    const p = plan(cs, [judged(aNode({ name: 'n1' }))], { nowMs: t0 + 1000 });
    expect(p.actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
    expect(p.status.phase).toBe('Scheduled');
    expect(p.requeueAfterMs).toBe(config.scheduledDeadlineMs - 1000 + 1);
  });

  it('fails a placement the node never acts on, with a reason the user can act on', () => {
    const cs = aCodespace({
      uid: 'u1',
      phase: 'Scheduled',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Scheduled', t0)] },
    });
    const p = plan(cs, [judged(aNode({ name: 'n1' }))], { nowMs: t0 + config.scheduledDeadlineMs + 1 });
    expect(p.status.phase).toBe('Failed');
    const message = 'node n1 did not start the container within 30 s; retry with start or force stop';
    expect(p.actions).toEqual([{ kind: 'markFailed', reason: message }]);
    expect(condition(p, 'Ready')).toMatchObject({ status: 'False', reason: 'StartTimedOut', message });
  });

  it('shows Starting while the container is created, without sending anything', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Scheduled', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { state: 'creating', ready: false })] });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([]);
    expect(p.status.phase).toBe('Starting');
    expect(condition(p, 'Progressing')).toMatchObject({ reason: 'Starting' });
  });

  it('fails a start that does not become ready within the deadline and stops the container', () => {
    const cs = aCodespace({
      uid: 'u1',
      phase: 'Starting',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Starting', t0)] },
    });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { ready: false })] });
    const p = plan(cs, [judged(n1)], { nowMs: t0 + 120_001 });
    const message = 'did not become ready within 120 s on node n1; retry with start or force stop';
    expect(p.status.phase).toBe('Failed');
    expect(p.status.stopReason).toBe('Failed');
    expect(p.actions).toEqual([
      { kind: 'stop', nodeName: 'n1', reason: 'User' },
      { kind: 'markFailed', reason: message },
    ]);
    expect(condition(p, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
  });

  it('reports Running with url, activity and volume once the container is ready', () => {
    const cs = aCodespace({ name: 'web', uid: 'u1', phase: 'Starting', nodeName: 'n1' });
    const activity = iso(t0 - 5000);
    const n1 = aNode({
      name: 'n1',
      proxyUrl: 'http://proxy.local:8080/',
      containers: [running('u1', { lastActivityAt: activity })],
    });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([]);
    expect(p.status).toMatchObject({
      phase: 'Running',
      nodeName: 'n1',
      url: 'http://proxy.local:8080/cs/web/',
      lastActivityTime: activity,
      volumeNodeName: 'n1',
    });
    expect(condition(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Running' });
    expect(condition(p, 'Progressing')).toBeUndefined();
  });

  it('sends the newer generation to a running container after a spec change', () => {
    const cs = aCodespace({ uid: 'u1', generation: 3, phase: 'Running', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { generation: 2 })] });
    expect(plan(cs, [judged(n1)]).actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
  });

  it('keeps a codespace found running on a node although its status lost the assignment', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Pending' });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const n2 = aNode({ name: 'n2' });
    const p = plan(cs, [judged(n1), judged(n2)]);
    expect(p.actions).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Running', nodeName: 'n1' });
    expect(condition(p, 'Scheduled')).toMatchObject({ reason: 'Adopted' });
  });

  it('removes a second copy on a node that is neither assigned nor holding the volume', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1', volumeNodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const n2 = aNode({ name: 'n2', containers: [running('u1')] });
    expect(plan(cs, [judged(n1), judged(n2)]).actions).toEqual([{ kind: 'remove', nodeName: 'n2' }]);
  });
});

describe('planCodespace: crashes and restarts', () => {
  const runningOn = (overrides: Parameters<typeof aCodespace>[0] = {}) =>
    aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1', volumeNodeName: 'n1', ...overrides });
  const exitedNode = (exitCode = 1, receivedMs = t0) =>
    aNode({
      name: 'n1',
      lastHeartbeatReceivedMs: receivedMs,
      containers: [running('u1', { state: 'exited', ready: false, exitCode })],
    });

  it('counts a crash and backs off before restarting', () => {
    const p = plan(runningOn(), [judged(exitedNode(137))]);
    expect(p.actions).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Starting', restartCount: 1, stopReason: 'Crashed' });
    expect(condition(p, 'Ready')).toMatchObject({ reason: 'CrashBackOff' });
    expect(condition(p, 'Ready')?.message).toContain('exit code 137');
    expect(p.requeueAfterMs).toBe(config.restartBackoffBaseMs);
  });

  it('waits out the backoff, then restarts the same container', () => {
    const cs = runningOn({
      phase: 'Starting',
      restartCount: 2,
      status: { conditions: [since('Progressing', 'CrashBackOff', t0)] },
    });
    const early = plan(cs, [judged(exitedNode())], { nowMs: t0 + 5000 });
    expect(early.actions).toEqual([]);
    expect(early.requeueAfterMs).toBe(2 * config.restartBackoffBaseMs - 5000);
    const due = plan(cs, [judged(exitedNode())], { nowMs: t0 + 2 * config.restartBackoffBaseMs });
    expect(due.actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
    expect(condition(due, 'Progressing')).toMatchObject({ reason: 'Starting' });
  });

  it('does not count a report older than the restart command as another crash', () => {
    const cs = runningOn({
      phase: 'Starting',
      restartCount: 1,
      status: { conditions: [since('Progressing', 'Starting', t0)] },
    });
    const stale = plan(cs, [judged(exitedNode(1, t0 - 1))], { nowMs: t0 + 1000 });
    expect(stale.status.restartCount).toBe(1);
    expect(stale.actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
    const fresh = plan(cs, [judged(exitedNode(1, t0 + 500))], { nowMs: t0 + 1000 });
    expect(fresh.status.restartCount).toBe(2);
  });

  it('fails after too many crashes in a row with a readable reason', () => {
    const cs = runningOn({ restartCount: config.restartLimit - 1 });
    const p = plan(cs, [judged(exitedNode(2))]);
    expect(p.status.phase).toBe('Failed');
    const reason = `crashed ${config.restartLimit} times in a row on node n1 (last exit code 2); check the image and its logs, then retry with start or force stop`;
    expect(p.actions).toEqual([{ kind: 'markFailed', reason }]);
  });

  it('leaves a Failed codespace alone until the user retries with a new generation', () => {
    const failed = runningOn({ phase: 'Failed', restartCount: 5, status: { observedGeneration: 1 } });
    expect(plan(failed, [judged(exitedNode())]).actions).toEqual([]);
    const retried = runningOn({
      phase: 'Failed',
      generation: 2,
      restartCount: 5,
      status: { observedGeneration: 1 },
    });
    const p = plan(retried, [judged(exitedNode())]);
    expect(p.actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
    expect(p.status.restartCount).toBeUndefined();
    expect(p.status.phase).toBe('Starting');
  });

  it('clears the crash count once the container has run long enough', () => {
    const cs = runningOn({ restartCount: 3 });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { startedAt: iso(t0) })] });
    expect(plan(cs, [judged(n1)], { nowMs: t0 + 1000 }).requeueAfterMs).toBe(
      config.restartCountResetAfterMs - 1000,
    );
    expect(
      plan(cs, [judged(n1)], { nowMs: t0 + config.restartCountResetAfterMs }).status.restartCount,
    ).toBeUndefined();
  });
});

describe('planCodespace: stopping and idleness', () => {
  it('records running=false with reason Idle when the node stopped it for idleness', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { state: 'exited', stopReason: 'Idle' })] });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([{ kind: 'setRunningFalse', reason: 'Idle' }]);
    expect(p.status).toMatchObject({ phase: 'Stopped', stopReason: 'Idle', volumeNodeName: 'n1' });
    expect(p.status.nodeName).toBeUndefined();
  });

  it('starts again a codespace the user started after an idle stop', () => {
    const cs = aCodespace({ uid: 'u1', generation: 3, phase: 'Scheduled', nodeName: 'n1' });
    const n1 = aNode({
      name: 'n1',
      containers: [running('u1', { state: 'exited', stopReason: 'Idle', generation: 1 })],
    });
    expect(plan(cs, [judged(n1)]).actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
  });

  it('stops a running container when the user asks', () => {
    const cs = aCodespace({ uid: 'u1', running: false, phase: 'Running', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const p = plan(cs, [judged(n1)]);
    expect(p.actions).toEqual([{ kind: 'stop', nodeName: 'n1', reason: 'User' }]);
    expect(p.status.phase).toBe('Stopping');
  });

  it('keeps telling the node to stop until a report made after the stop shows it stopped', () => {
    // Just placed: the node may be starting it on our command though no report shows it yet.
    const cs = aCodespace({ uid: 'u1', running: false, phase: 'Scheduled', nodeName: 'n1' });
    const p = plan(cs, [judged(aNode({ name: 'n1', lastHeartbeatReceivedMs: t0 - 1000 }))]);
    expect(p.actions).toEqual([{ kind: 'stop', nodeName: 'n1', reason: 'User' }]);
    expect(p.status).toMatchObject({ phase: 'Stopping', nodeName: 'n1' });
    expect(p.requeueAfterMs).toBe(config.reportRecheckMs);
  });

  it('records Stopped, frees the node and remembers where the files are', () => {
    const cs = aCodespace({
      uid: 'u1',
      running: false,
      phase: 'Stopping',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Stopping', t0)] },
    });
    const n1 = aNode({
      name: 'n1',
      lastHeartbeatReceivedMs: t0 + 1000,
      containers: [running('u1', { state: 'exited' })],
    });
    const p = plan(cs, [judged(n1)], { nowMs: t0 + 2000 });
    expect(p.actions).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Stopped', stopReason: 'User', volumeNodeName: 'n1' });
    expect(p.status.nodeName).toBeUndefined();
    expect(p.status.url).toBeUndefined();
  });

  it('fails a stop that takes too long but keeps asking', () => {
    const cs = aCodespace({
      uid: 'u1',
      running: false,
      phase: 'Stopping',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Stopping', t0)] },
    });
    const n1 = aNode({ name: 'n1', containers: [running('u1', { state: 'stopping' })] });
    const p = plan(cs, [judged(n1)], { nowMs: t0 + config.stoppingDeadlineMs + 1 });
    expect(p.status.phase).toBe('Failed');
    expect(p.actions[0]).toEqual({ kind: 'stop', nodeName: 'n1', reason: 'User' });
    expect(condition(p, 'Ready')?.message).toBe(
      'did not stop within 60 s on node n1 (the node keeps failing to stop it); retry stop, or delete the codespace',
    );
    const later = plan({ ...cs, status: p.status }, [judged(n1)], { nowMs: t0 + 200_000 });
    expect(later.actions).toEqual([{ kind: 'stop', nodeName: 'n1', reason: 'User' }]);
    expect(later.status.phase).toBe('Failed');
  });

  it('moves a codespace off a node that stopped it because the node is terminating', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1' });
    const n1 = aNode({
      name: 'n1',
      draining: true,
      containers: [running('u1', { state: 'exited', stopReason: 'NodeTerminating' })],
    });
    const p = plan(cs, [judged(n1), judged(aNode({ name: 'n2' }))]);
    expect(p.status).toMatchObject({ phase: 'Pending', stopReason: 'NodeTerminating' });
    expect(p.status.nodeName).toBeUndefined();
    expect(p.requeueAfterMs).toBe(0);
  });
});

describe('planCodespace: node failure', () => {
  it('keeps a codespace on a silent node that is not yet fenced and says why', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', lastHeartbeatTime: iso(t0), containers: [running('u1')] });
    for (const health of ['NotReady', 'Lost'] as const) {
      const p = plan(cs, [judged(n1, health), judged(aNode({ name: 'n2' }))]);
      expect(p.actions).toEqual([]);
      expect(p.status.nodeName).toBe('n1');
      expect(condition(p, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeNotReady' });
    }
  });

  it('treats a node the store does not know as silent, not as gone', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'ghost' });
    const p = plan(cs, [judged(aNode({ name: 'n2' }))]);
    expect(p.actions).toEqual([]);
    expect(p.status.nodeName).toBe('ghost');
  });

  it('reschedules a codespace only once its node is fenced, saying why', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1', volumeNodeName: 'n1' });
    const n1 = aNode({ name: 'n1', lastHeartbeatTime: iso(t0), containers: [running('u1')] });
    const p = plan(cs, [judged(n1, 'Fenced'), judged(aNode({ name: 'n2' }))]);
    expect(p.actions).toEqual([{ kind: 'place', nodeName: 'n2' }]);
    expect(p.status).toMatchObject({ phase: 'Scheduled', nodeName: 'n2', stopReason: 'NodeLost' });
    expect(p.status.volumeNodeName).toBeUndefined();
    expect(condition(p, 'Ready')?.message).toBe(
      `node n1 stopped sending heartbeats (last at ${iso(t0)}) and was terminated; the codespace is being moved to another node`,
    );
  });

  it('records a stopped codespace whose volume node was fenced as Stopped with reason NodeLost', () => {
    const cs = aCodespace({ uid: 'u1', running: false, phase: 'Stopping', nodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const p = plan(cs, [judged(n1, 'Fenced')]);
    expect(p.actions).toEqual([]);
    expect(p.status).toMatchObject({ phase: 'Stopped', stopReason: 'NodeLost' });
    expect(p.status.volumeNodeName).toBeUndefined();
  });
});

describe('planCodespace: deletion', () => {
  const deleting = (overrides: Parameters<typeof aCodespace>[0] = {}) =>
    aCodespace({ uid: 'u1', phase: 'Deleting', deletionTimestamp: iso(t0), ...overrides });

  it('removes the container and the volume from every reachable node that has them', () => {
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const n2 = aNode({ name: 'n2', volumes: ['u1'] });
    const p = plan(deleting({ nodeName: 'n1' }), [judged(n1), judged(n2)]);
    expect(p.actions).toEqual([
      { kind: 'remove', nodeName: 'n1' },
      { kind: 'remove', nodeName: 'n2' },
    ]);
    expect(p.status.phase).toBe('Deleting');
  });

  it('finalizes once the node it was on reports, after the deletion began, that it holds nothing', () => {
    const cs = deleting({
      volumeNodeName: 'n1',
      status: { conditions: [since('Progressing', 'Deleting', t0)] },
    });
    const stale = plan(cs, [judged(aNode({ name: 'n1', lastHeartbeatReceivedMs: t0 - 1 }))], {
      nowMs: t0 + 2000,
    });
    expect(stale.actions).toEqual([{ kind: 'remove', nodeName: 'n1' }]);
    const fresh = plan(cs, [judged(aNode({ name: 'n1', lastHeartbeatReceivedMs: t0 + 1000 }))], {
      nowMs: t0 + 2000,
    });
    expect(fresh.actions).toEqual([{ kind: 'finalize' }]);
  });

  it('finalizes at once a codespace that was never on any node', () => {
    expect(plan(deleting(), [judged(aNode({ name: 'n1' }))]).actions).toEqual([{ kind: 'finalize' }]);
  });

  it('waits for a silent node instead of forgetting what it may hold', () => {
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const p = plan(deleting({ nodeName: 'n1' }), [judged(n1, 'NotReady')]);
    expect(p.actions).toEqual([]);
  });

  it('finalizes when the only holder was fenced', () => {
    const n1 = aNode({ name: 'n1', containers: [running('u1')], volumes: ['u1'] });
    expect(plan(deleting({ nodeName: 'n1' }), [judged(n1, 'Fenced')]).actions).toEqual([
      { kind: 'finalize' },
    ]);
  });

  it('fails a deletion stuck past its deadline and says which node holds it', () => {
    const cs = deleting({ nodeName: 'n1', status: { conditions: [since('Progressing', 'Deleting', t0)] } });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const p = plan(cs, [judged(n1, 'NotReady')], { nowMs: t0 + config.deletingDeadlineMs + 1 });
    expect(p.status.phase).toBe('Failed');
    expect(condition(p, 'Ready')?.message).toBe(
      'could not remove the codespace from node n1 within 120 s; node n1 is not responding; removal goes on once it answers or is fenced',
    );
  });
});

describe('planCodespace: purity', () => {
  it('never modifies the codespace it reads', () => {
    const cs = aCodespace({ uid: 'u1' });
    const frozen = structuredClone(cs);
    plan(Object.freeze(cs), [judged(aNode({ name: 'n1' }))]);
    expect(cs).toEqual(frozen);
  });

  it('returns the same status object when nothing changed', () => {
    const cs = aCodespace({ uid: 'u1', phase: 'Running', nodeName: 'n1', volumeNodeName: 'n1' });
    const n1 = aNode({ name: 'n1', containers: [running('u1')] });
    const first = plan(cs, [judged(n1)]);
    const second = plan({ ...cs, status: first.status }, [judged(n1)]);
    expect(second.status).toBe(first.status);
  });
});

describe('planCodespace: our own blind spells', () => {
  it('does not let a deadline run through a time the orchestrator could not see', () => {
    const cs = aCodespace({
      uid: 'u1',
      phase: 'Scheduled',
      nodeName: 'n1',
      status: { conditions: [since('Progressing', 'Scheduled', t0)] },
    });
    const input = planInputFor({
      codespace: cs,
      nodes: [judged(aNode({ name: 'n1' }))],
      codespaces: [cs],
      nowMs: t0 + config.scheduledDeadlineMs + 1,
      visibleSinceMs: t0 + config.scheduledDeadlineMs - 1000,
      config,
    });
    const p = planCodespace(input);
    expect(p.status.phase).toBe('Scheduled');
    expect(p.actions).toEqual([{ kind: 'ensureRunning', nodeName: 'n1' }]);
  });
});

describe('planCodespace: idle races', () => {
  it('keeps Idle as the reason when a late copy must be stopped after the idle stop was recorded', () => {
    const cs = aCodespace({
      uid: 'u1',
      running: false,
      generation: 2,
      phase: 'Stopping',
      stopReason: 'Idle',
      status: { conditions: [since('Progressing', 'Stopping', t0)] },
    });
    const n1 = aNode({
      name: 'n1',
      lastHeartbeatReceivedMs: t0 + 1000,
      containers: [running('u1', { state: 'exited', stopReason: 'User' })],
    });
    const p = plan(cs, [judged(n1)], { nowMs: t0 + 2000 });
    expect(p.status).toMatchObject({ phase: 'Stopped', stopReason: 'Idle' });
  });

  it('forgets the idle reason once the codespace is wanted running again', () => {
    const cs = aCodespace({
      uid: 'u1',
      generation: 3,
      phase: 'Stopped',
      stopReason: 'Idle',
      volumeNodeName: 'n1',
    });
    const p = plan(cs, [judged(aNode({ name: 'n1' }))]);
    expect(p.status.stopReason).toBeUndefined();
    expect(p.actions).toEqual([{ kind: 'place', nodeName: 'n1' }]);
  });
});
