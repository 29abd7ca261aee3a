import { maxContainersPerNodeDefault } from '../model/limits.js';
import { fullness, type PlacementOptions } from './fit.js';
import type { PlacementRequest } from './placement-request.js';
import { fromMilliCpu, toMilliCpu, type NodeView } from './node-view.js';
import { explainUnschedulable, type Unschedulable } from './unschedulable.js';

export interface Placed {
  readonly kind: 'placed';
  readonly nodeName: string;
}

export type PlacementResult = Placed | Unschedulable;

/**
 * Picks the node for one codespace, or says precisely why none fits.
 *
 * Filters (ready, not cordoned, not draining, a free slot, cpu and memory fit), then ranks:
 * the node holding the codespace's volume first, then by the strategy (fullest or emptiest after
 * placing), then by name so that the answer never depends on the order of `nodes`.
 *
 * One linear scan, no sort per placement. This is the reference; the controller asks a
 * `PlacementIndex`, which gives the same answer without visiting every node.
 */
export function place(
  request: PlacementRequest,
  nodes: readonly NodeView[],
  options: PlacementOptions,
): PlacementResult {
  const index = bestNodeIndex(request, nodes, options);
  if (index < 0) return explainUnschedulable(request, nodes, options);
  return { kind: 'placed', nodeName: (nodes[index] as NodeView).name };
}

/**
 * The filters and the ranking of `misfitOf`, `holdsVolume` and `allocatedFractionAfter`, inlined:
 * this loop runs nodes × placements times, so the request's amounts are converted once and the
 * per-node work is a handful of comparisons. The unit and property tests hold it to those functions.
 */
function bestNodeIndex(
  request: PlacementRequest,
  nodes: readonly NodeView[],
  options: PlacementOptions,
): number {
  const fullerIsBetter = options.strategy === 'binpack';
  const maxSlots = options.maxContainersPerNode ?? maxContainersPerNodeDefault;
  const requestCpuMilli = toMilliCpu(request.resources.cpu);
  const requestMemoryMiB = request.resources.memoryMiB;
  const volumeNodeName = request.volumeNodeName;
  let best = -1;
  let bestAffinity = false;
  let bestScore = 0;
  let bestName = '';
  for (let i = 0; i < nodes.length; i += 1) {
    const node = nodes[i] as NodeView;
    if (!node.ready || node.unschedulable || node.draining) continue;
    const slotLimit = Math.min(node.capacity.slots, maxSlots);
    const slotsAfter = node.used.slots + 1;
    if (slotsAfter > slotLimit) continue;
    const cpuMilliCapacity = toMilliCpu(node.capacity.cpu);
    const cpuMilliAfter = toMilliCpu(node.used.cpu) + requestCpuMilli;
    if (cpuMilliAfter > cpuMilliCapacity) continue;
    const memoryMiBAfter = node.used.memoryMiB + requestMemoryMiB;
    if (memoryMiBAfter > node.capacity.memoryMiB) continue;
    const affinity = node.name === volumeNodeName || node.volumes.has(request.uid);
    if (best >= 0 && bestAffinity && !affinity) continue;
    const score = fullness(
      slotsAfter,
      slotLimit,
      cpuMilliAfter,
      cpuMilliCapacity,
      memoryMiBAfter,
      node.capacity.memoryMiB,
    );
    const better =
      best < 0 ||
      affinity !== bestAffinity ||
      (fullerIsBetter ? score > bestScore : score < bestScore) ||
      (score === bestScore && node.name < bestName);
    if (better) {
      best = i;
      bestAffinity = affinity;
      bestScore = score;
      bestName = node.name;
    }
  }
  return best;
}

/** The node after it takes the request: one more slot, the request's cpu and memory. */
export function withUsage(node: NodeView, request: PlacementRequest): NodeView {
  // Spelled out rather than spread: every view keeps one shape, which keeps the hot loop fast.
  return {
    name: node.name,
    ready: node.ready,
    unschedulable: node.unschedulable,
    draining: node.draining,
    capacity: node.capacity,
    used: {
      slots: node.used.slots + 1,
      cpu: fromMilliCpu(toMilliCpu(node.used.cpu) + toMilliCpu(request.resources.cpu)),
      memoryMiB: node.used.memoryMiB + request.resources.memoryMiB,
    },
    volumes: node.volumes,
  };
}

/** The snapshot after `nodeName` takes the request; other nodes are shared, not copied. */
export function withPlacement(
  nodes: readonly NodeView[],
  request: PlacementRequest,
  nodeName: string,
): NodeView[] {
  return nodes.map((node) => (node.name === nodeName ? withUsage(node, request) : node));
}

export interface BatchPlacement {
  /** One result per request, in request order. */
  readonly results: PlacementResult[];
  /** The snapshot with every placement applied, in the input's node order. */
  readonly nodes: NodeView[];
}

/**
 * Places requests in order, each seeing the capacity the earlier ones took: the same answers as
 * calling `place` then `withPlacement` one request at a time, without copying the snapshot each time.
 */
export function placeBatch(
  requests: readonly PlacementRequest[],
  nodes: readonly NodeView[],
  options: PlacementOptions,
): BatchPlacement {
  const working = nodes.slice();
  const results: PlacementResult[] = [];
  for (const request of requests) {
    const index = bestNodeIndex(request, working, options);
    if (index < 0) {
      results.push(explainUnschedulable(request, working, options));
      continue;
    }
    const node = working[index] as NodeView;
    working[index] = withUsage(node, request);
    results.push({ kind: 'placed', nodeName: node.name });
  }
  return { results, nodes: working };
}
