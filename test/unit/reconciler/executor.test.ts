import { beforeEach, describe, expect, it } from 'vitest';
import type { Codespace } from '../../../src/model/codespace.js';
import { CodeyardError } from '../../../src/model/errors.js';
import { CommandsFailedError, executePlan } from '../../../src/reconciler/executor.js';
import type { JudgedNode } from '../../../src/reconciler/node-health.js';
import type { Plan } from '../../../src/reconciler/plan.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aCodespace, aNode } from '../../support/fixtures.js';
import { RecordingAgentClient } from '../../support/sim/recording-agent-client.js';

const n1 = aNode({ name: 'n1', agentUrl: 'http://127.0.0.1:7001' });
const nodes = new Map<string, JudgedNode>([['n1', { name: 'n1', health: 'Ready', record: n1 }]]);

describe('executePlan', () => {
  let store: MemoryStore;
  let agents: RecordingAgentClient;
  let epoch: number;
  let stored: Codespace;

  beforeEach(async () => {
    store = new MemoryStore();
    agents = new RecordingAgentClient();
    epoch = (await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 60_000 })).epoch;
    stored = await store.createCodespace(aCodespace({ name: 'web', uid: 'u1', generation: 2 }), {
      maxPerOwner: 10,
    });
  });

  const context = () => ({ store, agents, leaderEpoch: () => epoch });

  it('writes the new status fenced by the epoch, then commands the node with epoch and generation', async () => {
    const plan: Plan = {
      actions: [{ kind: 'ensureRunning', nodeName: 'n1' }],
      status: { ...stored.status, phase: 'Scheduled', nodeName: 'n1' },
    };
    const outcome = await executePlan(stored, plan, nodes, context());
    expect(outcome.kind).toBe('written');
    expect((await store.getCodespace('web'))?.status).toMatchObject({ phase: 'Scheduled', nodeName: 'n1' });
    expect(agents.commands).toEqual([
      {
        kind: 'ensureRunning',
        node: 'n1',
        epoch,
        uid: 'u1',
        request: { name: 'web', owner: stored.metadata.owner, generation: 2, spec: stored.spec },
      },
    ]);
  });

  it('sends nothing when the store refuses the write as from an older epoch', async () => {
    await store.raiseEpochAtLeast(epoch + 1);
    const plan: Plan = {
      actions: [{ kind: 'ensureRunning', nodeName: 'n1' }],
      status: { ...stored.status, phase: 'Scheduled' },
    };
    await expect(executePlan(stored, plan, nodes, context())).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(agents.commands).toEqual([]);
  });

  it('sends nothing when the object changed since it was planned from', async () => {
    await store.updateCodespace(
      { ...stored, spec: { ...stored.spec, running: false } },
      { expectedResourceVersion: stored.metadata.resourceVersion },
    );
    const plan: Plan = {
      actions: [{ kind: 'stop', nodeName: 'n1', reason: 'User' }],
      status: { ...stored.status, phase: 'Stopping' },
    };
    await expect(executePlan(stored, plan, nodes, context())).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(agents.commands).toEqual([]);
  });

  it('refuses to act at all when this replica is not leading', async () => {
    const plan: Plan = { actions: [{ kind: 'remove', nodeName: 'n1' }], status: stored.status };
    await expect(
      executePlan(stored, plan, nodes, { store, agents, leaderEpoch: () => undefined }),
    ).rejects.toMatchObject({
      code: 'NOT_LEADER',
    });
  });

  it('skips the write when the status is unchanged', async () => {
    const plan: Plan = { actions: [{ kind: 'remove', nodeName: 'n1' }], status: stored.status };
    const outcome = await executePlan(stored, plan, nodes, context());
    expect(outcome).toEqual({ kind: 'unchanged', codespace: stored });
    expect((await store.getCodespace('web'))?.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
    expect(agents.commands.map((c) => c.kind)).toEqual(['remove']);
  });

  it('records an idle stop as running=false in a new generation', async () => {
    const plan: Plan = {
      actions: [{ kind: 'setRunningFalse', reason: 'Idle' }],
      // Plans come out of immer frozen.
      status: Object.freeze({ ...stored.status, phase: 'Stopped' as const, stopReason: 'Idle' as const }),
    };
    await executePlan(stored, plan, nodes, context());
    const after = await store.getCodespace('web');
    expect(after?.spec.running).toBe(false);
    expect(after?.metadata.generation).toBe(3);
    expect(after?.status).toMatchObject({ phase: 'Stopped', stopReason: 'Idle', observedGeneration: 3 });
  });

  it('finalizes a deletion through the fenced store call', async () => {
    const placed = await store.updateCodespace(
      { ...stored, status: { ...stored.status, volumeNodeName: 'n1' } },
      { expectedResourceVersion: stored.metadata.resourceVersion },
    );
    const { object } = await store.requestCodespaceDeletion('web', { now: new Date().toISOString() });
    expect(placed.metadata.name).toBe('web');
    const outcome = await executePlan(
      object,
      { actions: [{ kind: 'finalize' }], status: object.status },
      nodes,
      context(),
    );
    expect(outcome).toEqual({ kind: 'finalized' });
    expect(await store.getCodespace('web')).toBeUndefined();
  });

  it('tries every command, reports the failures and tells who refused for an old epoch', async () => {
    const n2 = aNode({ name: 'n2' });
    const both = new Map(nodes).set('n2', { name: 'n2', health: 'Ready', record: n2 });
    agents.failWith('n1', new CodeyardError('STALE_EPOCH', 'old'));
    const stale: string[] = [];
    const plan: Plan = {
      actions: [
        { kind: 'remove', nodeName: 'n1' },
        { kind: 'remove', nodeName: 'n2' },
      ],
      status: stored.status,
    };
    const run = executePlan(stored, plan, both, { ...context(), onStaleEpoch: (n: string) => stale.push(n) });
    await expect(run).rejects.toBeInstanceOf(CommandsFailedError);
    expect(agents.commands.map((c) => c.node)).toEqual(['n2']);
    expect(stale).toEqual(['n1']);
  });
});
