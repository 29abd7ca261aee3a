import type { JudgedNode } from './node-health.js';

export interface OrphanRemoval {
  readonly nodeName: string;
  readonly uid: string;
  /** The codespace name the container carries (its Docker label). */
  readonly name: string;
}

/**
 * Containers on a reachable node whose codespace no longer exists: remove them (container and
 * volume). Pure. The caller must pass the complete set of existing uids, from a full, successful
 * list — an incomplete one would make live codespaces look like orphans. Containers of existing
 * codespaces are the codespace planner's business (it sees every copy of its own uid).
 */
export function planOrphans(node: JudgedNode, existingUids: ReadonlySet<string>): OrphanRemoval[] {
  if (node.health !== 'Ready' || node.record === undefined) return [];
  const seen = new Set<string>();
  const removals: OrphanRemoval[] = [];
  for (const container of node.record.containers) {
    if (existingUids.has(container.uid) || seen.has(container.uid)) continue;
    seen.add(container.uid);
    removals.push({ nodeName: node.name, uid: container.uid, name: container.name });
  }
  return removals;
}
