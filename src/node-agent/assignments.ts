import type { KvCodespaceEntry } from './local-kv-format.js';

export interface UnassignedRule {
  /** Uids the heartbeat response assigns to this node. */
  assigned: ReadonlySet<string>;
  responseEpoch: number;
  highestEpoch: number;
  nowMs: number;
  /** A container started less than this ago may be one the orchestrator placed after computing its answer. */
  graceMs: number;
}

/**
 * Whether a heartbeat response's assignment list lets the node stop this container. The node
 * starts nothing on its own, and stops only what nobody assigns: a running container that is
 * missing from the list, when the answer comes from a leader at least as new as the highest
 * epoch seen here and at least as new as the command that started it, and the container is
 * older than the grace period (a command and a heartbeat answer can cross on the wire). The
 * volume is always kept: data is never deleted on the strength of an unsigned answer.
 */
export function shouldStopUnassigned(
  entry: Readonly<Pick<KvCodespaceEntry, 'uid' | 'state' | 'epoch' | 'startedAt'>>,
  rule: UnassignedRule,
): boolean {
  if (entry.state !== 'running') return false;
  if (rule.assigned.has(entry.uid)) return false;
  if (rule.responseEpoch < rule.highestEpoch || entry.epoch > rule.responseEpoch) return false;
  const startedMs = entry.startedAt === undefined ? Number.NaN : Date.parse(entry.startedAt);
  if (Number.isNaN(startedMs)) return false;
  return rule.nowMs - startedMs >= rule.graceMs;
}
