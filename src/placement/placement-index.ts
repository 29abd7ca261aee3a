import { maxContainersPerNodeDefault } from '../model/limits.js';
import { fullness, type PlacementOptions } from './fit.js';
import { toMilliCpu, type NodeView } from './node-view.js';
import type { PlacementResult } from './place.js';
import type { PlacementRequest } from './placement-request.js';
import { explainUnschedulable } from './unschedulable.js';

const noNodes: ReadonlySet<string> = new Set();

/**
 * Eligible nodes whose capacity and usage are equal: every request gets the same answer from each
 * of them (fits or not, same score), so the best of them is always the one with the smallest name.
 */
interface NodeGroup {
  readonly slotsCapacity: number;
  readonly cpuMilliCapacity: number;
  readonly memoryMiBCapacity: number;
  readonly slotsUsed: number;
  readonly cpuMilliUsed: number;
  readonly memoryMiBUsed: number;
  /** Sorted ascending; never empty while the group is indexed. */
  readonly names: string[];
}

/**
 * Placement over a node set that changes one node at a time, without scanning every node per
 * request: `place` gives exactly the answer of `place(request, views(), options)` (the property
 * tests hold it to that), at a cost of O(groups + nodes holding the volume) instead of O(nodes).
 *
 * Nodes are grouped by capacity and usage — what the filters and the score read besides the
 * name and the volumes. A fleet of one instance type has at most (slots + 1) groups for uniform
 * requests, so a placement among 2,000 nodes looks at ~20 groups. Volume affinity, the only
 * per-node preference, is answered from an index of which nodes hold which volume.
 *
 * Not ready, cordoned and draining nodes are kept (for `views()` and the unschedulable
 * explanation) but in no group: they never take a request.
 */
export class PlacementIndex {
  private readonly byName = new Map<string, NodeView>();
  private readonly groups = new Map<string, NodeGroup>();
  private readonly groupOf = new Map<string, NodeGroup>();
  /** Volume uid → names of the nodes whose view lists it. */
  private readonly volumeHolders = new Map<string, Set<string>>();

  static of(views: readonly NodeView[]): PlacementIndex {
    const index = new PlacementIndex();
    for (const view of views) index.set(view);
    return index;
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): NodeView | undefined {
    return this.byName.get(name);
  }

  /** Every node's view (in no particular order). */
  views(): NodeView[] {
    return [...this.byName.values()];
  }

  /** Adds the node or replaces its view. */
  set(view: NodeView): void {
    const previous = this.byName.get(view.name);
    if (previous === view) return;
    if (previous !== undefined) this.unindex(previous);
    this.byName.set(view.name, view);
    this.index(view);
  }

  delete(name: string): void {
    const previous = this.byName.get(name);
    if (previous === undefined) return;
    this.unindex(previous);
    this.byName.delete(name);
  }

  /**
   * The answer of `place(request, views(), options)`, with the nodes in `notReady` taken as not
   * ready (the orchestrator's own judgement of silent nodes, added to what the nodes say).
   */
  place(
    request: PlacementRequest,
    options: PlacementOptions,
    notReady: ReadonlySet<string> = noNodes,
  ): PlacementResult {
    const ask: Ask = {
      maxSlots: options.maxContainersPerNode ?? maxContainersPerNodeDefault,
      fullerIsBetter: options.strategy === 'binpack',
      cpuMilli: toMilliCpu(request.resources.cpu),
      memoryMiB: request.resources.memoryMiB,
    };
    let best: Candidate | undefined;
    // A node holding the volume beats every other node that fits.
    for (const name of this.affinityCandidates(request)) {
      const group = this.groupOf.get(name);
      if (group !== undefined && !notReady.has(name)) best = better(best, ask, group, name);
    }
    if (best === undefined) {
      for (const group of this.groups.values()) {
        const name = notReady.size === 0 ? group.names[0] : group.names.find((n) => !notReady.has(n));
        if (name !== undefined) best = better(best, ask, group, name);
      }
    }
    const bestName = best?.name;
    if (bestName === undefined) return explainUnschedulable(request, this.viewsJudged(notReady), options);
    return { kind: 'placed', nodeName: bestName };
  }

  private viewsJudged(notReady: ReadonlySet<string>): NodeView[] {
    return this.views().map((view) =>
      view.ready && notReady.has(view.name) ? { ...view, ready: false } : view,
    );
  }

  private affinityCandidates(request: PlacementRequest): string[] {
    const holders = this.volumeHolders.get(request.uid);
    const candidates = holders === undefined ? [] : [...holders];
    const named = request.volumeNodeName;
    if (named !== undefined && holders?.has(named) !== true && this.byName.has(named)) candidates.push(named);
    return candidates;
  }

  private index(view: NodeView): void {
    for (const uid of view.volumes) {
      const holders = this.volumeHolders.get(uid);
      if (holders === undefined) this.volumeHolders.set(uid, new Set([view.name]));
      else holders.add(view.name);
    }
    if (!view.ready || view.unschedulable || view.draining) return;
    const key = groupKeyOf(view);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = {
        slotsCapacity: view.capacity.slots,
        cpuMilliCapacity: toMilliCpu(view.capacity.cpu),
        memoryMiBCapacity: view.capacity.memoryMiB,
        slotsUsed: view.used.slots,
        cpuMilliUsed: toMilliCpu(view.used.cpu),
        memoryMiBUsed: view.used.memoryMiB,
        names: [],
      };
      this.groups.set(key, group);
    }
    group.names.splice(insertionPoint(group.names, view.name), 0, view.name);
    this.groupOf.set(view.name, group);
  }

  private unindex(view: NodeView): void {
    for (const uid of view.volumes) {
      const holders = this.volumeHolders.get(uid);
      holders?.delete(view.name);
      if (holders?.size === 0) this.volumeHolders.delete(uid);
    }
    const group = this.groupOf.get(view.name);
    if (group === undefined) return;
    this.groupOf.delete(view.name);
    group.names.splice(insertionPoint(group.names, view.name), 1);
    if (group.names.length === 0) this.groups.delete(groupKeyOf(view));
  }
}

/** A request's amounts and the options, converted once per placement. */
interface Ask {
  readonly maxSlots: number;
  readonly fullerIsBetter: boolean;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

interface Candidate {
  readonly name: string;
  readonly score: number;
}

/** The better of `best` and the node `name` of `group` (when it fits), as `place` ranks them. */
function better(
  best: Candidate | undefined,
  ask: Ask,
  group: NodeGroup,
  name: string,
): Candidate | undefined {
  const slotLimit = Math.min(group.slotsCapacity, ask.maxSlots);
  const slotsAfter = group.slotsUsed + 1;
  if (slotsAfter > slotLimit) return best;
  const cpuMilliAfter = group.cpuMilliUsed + ask.cpuMilli;
  if (cpuMilliAfter > group.cpuMilliCapacity) return best;
  const memoryMiBAfter = group.memoryMiBUsed + ask.memoryMiB;
  if (memoryMiBAfter > group.memoryMiBCapacity) return best;
  const score = fullness(
    slotsAfter,
    slotLimit,
    cpuMilliAfter,
    group.cpuMilliCapacity,
    memoryMiBAfter,
    group.memoryMiBCapacity,
  );
  if (best === undefined) return { name, score };
  const wins =
    (ask.fullerIsBetter ? score > best.score : score < best.score) ||
    (score === best.score && name < best.name);
  return wins ? { name, score } : best;
}

/** Everything the filters and the score read of an eligible node, besides its name and volumes. */
function groupKeyOf(view: NodeView): string {
  const { capacity, used } = view;
  return `${capacity.slots}/${toMilliCpu(capacity.cpu)}/${capacity.memoryMiB}/${used.slots}/${toMilliCpu(used.cpu)}/${used.memoryMiB}`;
}

/** Index of `name` in the sorted array, or where it would go. */
function insertionPoint(sorted: readonly string[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < name) low = middle + 1;
    else high = middle;
  }
  return low;
}
