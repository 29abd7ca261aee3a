import type { NodeDrainer } from '../fleet/termination-hook.js';
import type { StopRequest } from '../model/agent-protocol.js';
import type { Codespace } from '../model/codespace.js';
import { CodeyardError } from '../model/errors.js';
import type { AgentTarget } from '../reconciler/agent-client.js';
import type { Store } from '../store/store.js';

export interface DrainCommands {
  drain(target: AgentTarget): Promise<void>;
  stop(target: AgentTarget, uid: string, request: StopRequest): Promise<void>;
}

/**
 * The orchestrator's side of a termination hook: cordon in the store, tell the agent to drain
 * and stop each container with reason NodeTerminating (files kept). The reconciler sees those
 * stops in the next heartbeats and moves the codespaces to other nodes; the node counts as
 * drained once it reports no live container. Commands carry the leader's epoch, so only the
 * leader drains.
 */
export function storeNodeDrainer(deps: {
  store: Store;
  agents: DrainCommands;
  leaderEpoch: () => number | undefined;
  codespaces: () => readonly Codespace[];
}): NodeDrainer {
  const targetFor = async (nodeName: string): Promise<AgentTarget> => {
    const epoch = deps.leaderEpoch();
    if (epoch === undefined) throw new CodeyardError('NOT_LEADER', 'only the reconciler leader drains nodes');
    const record = await deps.store.getNode(nodeName);
    if (!record) throw new CodeyardError('NODE_NOT_FOUND', `node ${nodeName} has never sent a heartbeat`);
    return { nodeName, agentUrl: record.agentUrl, epoch };
  };
  return {
    async cordon(nodeName) {
      try {
        await deps.store.setNodeUnschedulable(nodeName, true);
      } catch (error) {
        // A node that never beat has nothing to cordon; the drain below has nothing to stop either.
        if (!(error instanceof CodeyardError && error.code === 'NODE_NOT_FOUND')) throw error;
      }
    },
    async stopCodespacesOn(nodeName, reason) {
      const target = await targetFor(nodeName).catch((error: unknown) => {
        if (error instanceof CodeyardError && error.code === 'NODE_NOT_FOUND') return undefined;
        throw error;
      });
      if (!target) return;
      await deps.agents.drain(target);
      const here = deps.codespaces().filter((c) => c.status.nodeName === nodeName);
      await Promise.all(
        here.map((c) =>
          deps.agents.stop(target, c.metadata.uid, { generation: c.metadata.generation, reason }),
        ),
      );
    },
    async isDrained(nodeName) {
      const record = await deps.store.getNode(nodeName);
      return record === undefined || record.containers.every((c) => c.state === 'exited');
    },
  };
}
