import type { Condition } from '../model/codespace.js';
import type { NodeRecord } from '../model/node.js';

/**
 * A node as an admin sees it: its `Ready` condition judged from the age of its last beat on
 * the orchestrator's own clock (a node's clock is never trusted for its own health).
 */
export function withReadyCondition(
  node: Readonly<NodeRecord>,
  options: { nowMs: number; notReadyAfterMs: number },
): NodeRecord {
  const beatAgeMs = Math.max(0, options.nowMs - node.lastHeartbeatReceivedMs);
  const fresh = beatAgeMs <= options.notReadyAfterMs;
  const ready: Condition = fresh
    ? {
        type: 'Ready',
        status: 'True',
        reason: 'HeartbeatFresh',
        message: `last heartbeat ${Math.round(beatAgeMs / 1000)}s ago`,
        lastTransitionTime: new Date(node.lastHeartbeatReceivedMs).toISOString(),
      }
    : {
        type: 'Ready',
        status: 'False',
        reason: 'HeartbeatMissed',
        message: `no heartbeat for ${Math.round(beatAgeMs / 1000)}s (limit ${Math.round(options.notReadyAfterMs / 1000)}s)`,
        lastTransitionTime: new Date(node.lastHeartbeatReceivedMs + options.notReadyAfterMs).toISOString(),
      };
  return { ...node, conditions: [...node.conditions.filter((c) => c.type !== 'Ready'), ready] };
}
