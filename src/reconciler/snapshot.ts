import type { Codespace } from '../model/codespace.js';
import type { NodeRecord } from '../model/node.js';
import { nodeViewsFrom, type NodeView } from '../placement/node-view.js';
import type { PlacementIndex } from '../placement/placement-index.js';
import type { ReconcilerConfig } from './config.js';
import type { JudgedNode } from './node-health.js';
import type { ObservedOnNode, PlanInput } from './plan.js';

/** Every container with this uid on every node, with when its node's report arrived. */
export function observedFor(uid: string, nodes: readonly JudgedNode[]): ObservedOnNode[] {
  const observed: ObservedOnNode[] = [];
  for (const node of nodes) {
    const record = node.record;
    if (record === undefined) continue;
    for (const container of record.containers) {
      if (container.uid === uid) {
        observed.push({ nodeName: node.name, container, observedAtMs: record.lastHeartbeatReceivedMs });
      }
    }
  }
  return observed;
}

/** Placement's snapshot from what nodes report plus every codespace's recorded assignment. */
export function nodeViewsFor(nodes: readonly JudgedNode[], codespaces: readonly Codespace[]): NodeView[] {
  const records = nodes.map((n) => n.record).filter((r): r is NodeRecord => r !== undefined);
  return nodeViewsFrom(records, codespaces);
}

/**
 * The planner's input for one codespace. A caller that keeps its snapshot incrementally (the
 * controller's `ClusterCache`) passes the prebuilt `nodeViews`, `nodeMap` and `observed`, which
 * must equal what this would build from `nodes` and `codespaces`; then neither is scanned and
 * `codespaces` may be omitted.
 */
export function planInputFor(options: {
  codespace: Codespace;
  nodes: readonly JudgedNode[];
  codespaces?: readonly Codespace[];
  nowMs: number;
  config: ReconcilerConfig;
  nodeViews?: readonly NodeView[] | PlacementIndex;
  nodeMap?: ReadonlyMap<string, JudgedNode>;
  observed?: readonly ObservedOnNode[];
  visibleSinceMs?: number;
  notReadyNodeNames?: ReadonlySet<string>;
}): PlanInput {
  return {
    codespace: options.codespace,
    observed: options.observed ?? observedFor(options.codespace.metadata.uid, options.nodes),
    nodes: options.nodeMap ?? new Map(options.nodes.map((n) => [n.name, n])),
    nodeViews: options.nodeViews ?? nodeViewsFor(options.nodes, options.codespaces ?? []),
    nowMs: options.nowMs,
    ...(options.notReadyNodeNames === undefined ? {} : { notReadyNodeNames: options.notReadyNodeNames }),
    ...(options.visibleSinceMs === undefined ? {} : { visibleSinceMs: options.visibleSinceMs }),
    config: options.config,
  };
}
