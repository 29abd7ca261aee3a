import { describe, expect, it } from 'vitest';
import type { StopRequest } from '../../../src/model/agent-protocol.js';
import { storeNodeDrainer, type DrainCommands } from '../../../src/orchestrator/node-drainer.js';
import type { AgentTarget } from '../../../src/reconciler/agent-client.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aCodespace, aHeartbeat, anObservedContainer } from '../../support/fixtures.js';

function recordingCommands() {
  const calls: { kind: 'drain' | 'stop'; target: AgentTarget; uid?: string; request?: StopRequest }[] = [];
  const commands: DrainCommands = {
    drain: async (target) => {
      calls.push({ kind: 'drain', target });
    },
    stop: async (target, uid, request) => {
      calls.push({ kind: 'stop', target, uid, request });
    },
  };
  return { calls, commands };
}

describe('draining a terminating node', () => {
  it('cordons the node, tells its agent to drain and stops each of its codespaces with NodeTerminating', async () => {
    const store = new MemoryStore();
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'local-2', agentUrl: 'http://127.0.0.1:7171' }), {
      receivedAtMs: 1,
    });
    const here = [1, 2].map(() => aCodespace({ phase: 'Running', nodeName: 'local-2', generation: 3 }));
    const elsewhere = aCodespace({ phase: 'Running', nodeName: 'local-1' });
    const { calls, commands } = recordingCommands();
    const drainer = storeNodeDrainer({
      store,
      agents: commands,
      leaderEpoch: () => 7,
      codespaces: () => [...here, elsewhere],
    });

    await drainer.cordon('local-2');
    await drainer.stopCodespacesOn('local-2', 'NodeTerminating');

    expect((await store.getNode('local-2'))?.unschedulable).toBe(true);
    expect(calls[0]).toEqual({
      kind: 'drain',
      target: { nodeName: 'local-2', agentUrl: 'http://127.0.0.1:7171', epoch: 7 },
    });
    expect(calls.filter((c) => c.kind === 'stop').map((c) => c.uid)).toEqual(here.map((c) => c.metadata.uid));
    expect(calls[1]?.request).toEqual({ generation: 3, reason: 'NodeTerminating' });
  });

  it('is drained only once the node reports no live container', async () => {
    const store = new MemoryStore();
    const running = anObservedContainer({ state: 'running' });
    await store.applyHeartbeat(
      aHeartbeat({ nodeName: 'local-2', bootId: 'b', sequence: 1, containers: [running] }),
      {
        receivedAtMs: 1,
      },
    );
    const drainer = storeNodeDrainer({
      store,
      agents: recordingCommands().commands,
      leaderEpoch: () => 1,
      codespaces: () => [],
    });
    expect(await drainer.isDrained('local-2')).toBe(false);
    await store.applyHeartbeat(
      aHeartbeat({
        nodeName: 'local-2',
        bootId: 'b',
        sequence: 2,
        containers: [{ ...running, state: 'exited' }],
      }),
      { receivedAtMs: 2 },
    );
    expect(await drainer.isDrained('local-2')).toBe(true);
  });

  it('refuses to command nodes when this replica is not the leader', async () => {
    const store = new MemoryStore();
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'local-2' }), { receivedAtMs: 1 });
    const drainer = storeNodeDrainer({
      store,
      agents: recordingCommands().commands,
      leaderEpoch: () => undefined,
      codespaces: () => [],
    });
    await expect(drainer.stopCodespacesOn('local-2', 'NodeTerminating')).rejects.toMatchObject({
      code: 'NOT_LEADER',
    });
  });
});
