import type { NodeRecord } from '../model/node.js';
import type { ReconcilerConfig } from './config.js';

/**
 * How the orchestrator judges a node. `Fenced` is not judged from beats: it means the fleet
 * provider confirmed the instance is gone, the only state in which its codespaces may move.
 */
export type NodeHealth = 'Ready' | 'NotReady' | 'Lost' | 'Fenced';

/** One node as the planner sees it. `record` is absent for a node named by a codespace but unknown to the store. */
export interface JudgedNode {
  readonly name: string;
  readonly health: NodeHealth;
  readonly record?: NodeRecord | undefined;
}

/**
 * How long a node has been silent, as far as we can tell. Silence is measured from the later of
 * its last accepted beat and the moment we could last see again (after a store outage or on
 * becoming leader): a blind spell of ours is never counted against a node.
 */
export function effectiveSilenceMs(options: {
  lastHeartbeatReceivedMs: number | undefined;
  visibleSinceMs: number;
  nowMs: number;
}): number {
  const since = Math.max(options.lastHeartbeatReceivedMs ?? Number.NEGATIVE_INFINITY, options.visibleSinceMs);
  return Math.max(0, options.nowMs - since);
}

/** Ready, NotReady after `nodeNotReadyAfterMs` of silence, Lost after `nodeLostGraceMs`. Pure. */
export function judgeSilence(
  silenceMs: number,
  config: Pick<ReconcilerConfig, 'nodeNotReadyAfterMs' | 'nodeLostGraceMs'>,
): Exclude<NodeHealth, 'Fenced'> {
  if (silenceMs >= config.nodeLostGraceMs) return 'Lost';
  if (silenceMs >= config.nodeNotReadyAfterMs) return 'NotReady';
  return 'Ready';
}

/**
 * The first instant after `nowMs` at which `judgeSilence` of this node's silence can give another
 * answer (its silence reaching a threshold), or Infinity once no threshold is ahead. Until then
 * the judgement stands: callers reuse it across many keys instead of judging every node per key.
 */
export function nextJudgementChangeMs(
  options: { lastHeartbeatReceivedMs: number | undefined; visibleSinceMs: number; nowMs: number },
  config: Pick<ReconcilerConfig, 'nodeNotReadyAfterMs' | 'nodeLostGraceMs'>,
): number {
  const since = Math.max(options.lastHeartbeatReceivedMs ?? Number.NEGATIVE_INFINITY, options.visibleSinceMs);
  const thresholds = [config.nodeNotReadyAfterMs, config.nodeLostGraceMs].sort((a, b) => a - b);
  for (const thresholdMs of thresholds) {
    if (since + thresholdMs > options.nowMs) return since + thresholdMs;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Kubernetes' unhealthy-zone rule: when more than `threshold` of the (unfenced) nodes look
 * silent at once, the likelier explanation is that we cannot see them — our network, the store,
 * a pause — so nobody is fenced until the picture improves.
 */
export function suspectSelf(healths: readonly NodeHealth[], threshold: number): boolean {
  const judged = healths.filter((h) => h !== 'Fenced');
  if (judged.length === 0) return false;
  const silent = judged.filter((h) => h === 'NotReady' || h === 'Lost').length;
  return silent / judged.length > threshold;
}

/** The nodes to fence now: Lost ones, none when we suspect ourselves. Sorted for determinism. */
export function nodesToFence(nodes: readonly JudgedNode[], threshold: number): string[] {
  if (
    suspectSelf(
      nodes.map((n) => n.health),
      threshold,
    )
  )
    return [];
  return nodes
    .filter((n) => n.health === 'Lost')
    .map((n) => n.name)
    .sort();
}
