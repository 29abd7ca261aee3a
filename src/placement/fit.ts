import { maxContainersPerNodeDefault } from '../model/limits.js';
import { toMilliCpu, type NodeView } from './node-view.js';
import type { PlacementRequest } from './placement-request.js';

export type PlacementStrategy = 'binpack' | 'spread';

export interface PlacementOptions {
  /** `binpack` fills the fullest node first so empty nodes can be scaled in; `spread` the emptiest. */
  readonly strategy: PlacementStrategy;
  /** Upper bound on codespaces per node whatever the node reports; default `maxContainersPerNodeDefault`. */
  readonly maxContainersPerNode?: number;
}

/** Why one node cannot take a request; the first failing filter, in this order, wins. */
export type Misfit =
  'NotReady' | 'Cordoned' | 'Draining' | 'NoFreeSlot' | 'InsufficientCpu' | 'InsufficientMemory';

export const misfitsInFilterOrder: readonly Misfit[] = [
  'NotReady',
  'Cordoned',
  'Draining',
  'NoFreeSlot',
  'InsufficientCpu',
  'InsufficientMemory',
];

export function slotLimitOf(node: NodeView, options: PlacementOptions): number {
  return Math.min(node.capacity.slots, options.maxContainersPerNode ?? maxContainersPerNodeDefault);
}

/** The filters: undefined when the node can take the request now. */
export function misfitOf(
  node: NodeView,
  request: PlacementRequest,
  options: PlacementOptions,
): Misfit | undefined {
  if (!node.ready) return 'NotReady';
  if (node.unschedulable) return 'Cordoned';
  if (node.draining) return 'Draining';
  if (node.used.slots + 1 > slotLimitOf(node, options)) return 'NoFreeSlot';
  if (toMilliCpu(node.used.cpu) + toMilliCpu(request.resources.cpu) > toMilliCpu(node.capacity.cpu)) {
    return 'InsufficientCpu';
  }
  if (node.used.memoryMiB + request.resources.memoryMiB > node.capacity.memoryMiB)
    return 'InsufficientMemory';
  return undefined;
}

/** Whether this node already holds the codespace's volume (by status or by the node's own report). */
export function holdsVolume(node: NodeView, request: PlacementRequest): boolean {
  return node.name === request.volumeNodeName || node.volumes.has(request.uid);
}

function fraction(used: number, capacity: number): number {
  return capacity > 0 ? used / capacity : 1;
}

/** The score formula, on amounts already including the request; shared with placement's hot loop. */
export function fullness(
  slotsAfter: number,
  slotLimit: number,
  cpuMilliAfter: number,
  cpuMilliCapacity: number,
  memoryMiBAfter: number,
  memoryMiBCapacity: number,
): number {
  return (
    (fraction(slotsAfter, slotLimit) +
      fraction(cpuMilliAfter, cpuMilliCapacity) +
      fraction(memoryMiBAfter, memoryMiBCapacity)) /
    3
  );
}

/**
 * How full the node would be after taking the request: the mean of the slot, cpu and memory
 * fractions (Kubernetes' MostAllocated/LeastAllocated idea). Higher means fuller.
 */
export function allocatedFractionAfter(
  node: NodeView,
  request: PlacementRequest,
  options: PlacementOptions,
): number {
  return fullness(
    node.used.slots + 1,
    slotLimitOf(node, options),
    toMilliCpu(node.used.cpu) + toMilliCpu(request.resources.cpu),
    toMilliCpu(node.capacity.cpu),
    node.used.memoryMiB + request.resources.memoryMiB,
    node.capacity.memoryMiB,
  );
}
