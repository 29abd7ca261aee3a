import { misfitOf, misfitsInFilterOrder, type Misfit, type PlacementOptions } from './fit.js';
import type { NodeView } from './node-view.js';
import type { PlacementRequest } from './placement-request.js';

/**
 * Why nothing fits, from most to least fundamental. Only `InsufficientCapacity` is a reason for
 * the autoscaler to add nodes; the others call for an operator (or for nodes to finish joining).
 */
export type UnschedulableReason = 'NoNodes' | 'NoReadyNodes' | 'NoSchedulableNodes' | 'InsufficientCapacity';

export type MisfitTally = Readonly<Record<Misfit, number>>;

export interface Unschedulable {
  readonly kind: 'unschedulable';
  readonly reason: UnschedulableReason;
  /** For people: counts nodes by the filter that refused them and restates the request. */
  readonly message: string;
  readonly tally: MisfitTally;
}

const misfitPhrase: Record<Misfit, (count: number) => string> = {
  NotReady: (n) => `${n} not ready`,
  Cordoned: (n) => `${n} cordoned`,
  Draining: (n) => `${n} draining`,
  NoFreeSlot: (n) => `${n} ${n === 1 ? 'node' : 'nodes'} full`,
  InsufficientCpu: (n) => `${n} short of cpu`,
  InsufficientMemory: (n) => `${n} short of memory`,
};

/** Capacity problems first: they are what an operator or the autoscaler can act on. */
const phraseOrder: readonly Misfit[] = [
  'NoFreeSlot',
  'InsufficientCpu',
  'InsufficientMemory',
  'NotReady',
  'Cordoned',
  'Draining',
];

/** Explains a failed placement; call only when no node fits (it rescans every node). */
export function explainUnschedulable(
  request: PlacementRequest,
  nodes: readonly NodeView[],
  options: PlacementOptions,
): Unschedulable {
  const tally = Object.fromEntries(misfitsInFilterOrder.map((m) => [m, 0])) as Record<Misfit, number>;
  for (const node of nodes) {
    const misfit = misfitOf(node, request, options);
    if (misfit !== undefined) tally[misfit] += 1;
  }
  const asked = `${request.resources.cpu} cpu, ${request.resources.memoryMiB} MiB`;
  if (nodes.length === 0) {
    return {
      kind: 'unschedulable',
      reason: 'NoNodes',
      message: `NoNodes: the fleet has no nodes (needs 1 slot, ${asked})`,
      tally,
    };
  }
  const parts = phraseOrder.filter((m) => tally[m] > 0).map((m) => misfitPhrase[m](tally[m]));
  const summary = `${parts.join(', ')} (needs 1 slot, ${asked})`;
  const schedulable = nodes.length - tally.NotReady - tally.Cordoned - tally.Draining;
  const reason: UnschedulableReason =
    tally.NotReady === nodes.length
      ? 'NoReadyNodes'
      : schedulable === 0
        ? 'NoSchedulableNodes'
        : 'InsufficientCapacity';
  return { kind: 'unschedulable', reason, message: `${reason}: ${summary}`, tally };
}
