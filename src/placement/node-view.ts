import type { Phase, Resources } from '../model/codespace.js';
import type { ContainerState, NodeRecord } from '../model/node.js';
import { resourceDefaults } from '../model/limits.js';

/** An amount of each resource placement tracks. `cpu` is in cores and may be fractional. */
export interface ResourceAmounts {
  readonly slots: number;
  readonly cpu: number;
  readonly memoryMiB: number;
}

/** What placement needs to know about one node; built by `nodeViewsFrom` or directly in tests. */
export interface NodeView {
  /** Unique within a snapshot; also the deterministic tie-break. */
  readonly name: string;
  readonly ready: boolean;
  /** Cordoned by an operator or the autoscaler. */
  readonly unschedulable: boolean;
  readonly draining: boolean;
  readonly capacity: ResourceAmounts;
  readonly used: ResourceAmounts;
  /** Uids of the codespaces whose volumes are on this node's disk. */
  readonly volumes: ReadonlySet<string>;
}

/** The part of a `Codespace` that decides what it holds on a node; a full `Codespace` fits. */
export interface AssignedCodespace {
  readonly metadata: { readonly uid: string };
  readonly spec: { readonly resources: Pick<Resources, 'cpu' | 'memoryMiB'> };
  readonly status: { readonly phase: Phase; readonly nodeName?: string | undefined };
}

/**
 * Phases in which a codespace holds its slot on the node it is assigned to, whether or not the
 * node has reported its container yet: counting our own assignments is what keeps two placements
 * between heartbeats from overcommitting a node.
 */
const phasesHoldingCapacity: ReadonlySet<Phase> = new Set<Phase>([
  'Scheduled',
  'Starting',
  'Running',
  'Stopping',
  'Deleting',
]);

/**
 * Whether two copies of one codespace count the same in every node view: same uid, node, volume
 * node, resources, and both in or both out of a phase holding capacity. A status write that only
 * moves conditions or goes Scheduled → Starting → Running changes no view.
 */
export function sameFootprint(a: AssignedCodespaceWithVolume, b: AssignedCodespaceWithVolume): boolean {
  return (
    a.metadata.uid === b.metadata.uid &&
    a.status.nodeName === b.status.nodeName &&
    a.status.volumeNodeName === b.status.volumeNodeName &&
    a.spec.resources.cpu === b.spec.resources.cpu &&
    a.spec.resources.memoryMiB === b.spec.resources.memoryMiB &&
    phasesHoldingCapacity.has(a.status.phase) === phasesHoldingCapacity.has(b.status.phase)
  );
}

type AssignedCodespaceWithVolume = AssignedCodespace & {
  readonly status: { readonly volumeNodeName?: string | undefined };
};

/** Container states that still occupy the node: only an exited container gives its resources back. */
function containerOccupies(state: ContainerState): boolean {
  return state !== 'exited';
}

/** Nodes whose orchestrator-side `Ready` condition is anything but True are not ready, whatever the node said. */
function isReady(node: NodeRecord): boolean {
  const condition = node.conditions.find((c) => c.type === 'Ready');
  return node.ready && (condition === undefined || condition.status === 'True');
}

/**
 * Builds placement's view of each node from the node records and the codespaces (any list that
 * includes those assigned to nodes; others are ignored).
 *
 * A node's usage is the sum of
 * - every codespace assigned to it in a phase that holds capacity (see `phasesHoldingCapacity`),
 *   and every assigned codespace whose container the node still reports as not exited (a Failed
 *   or Stopped codespace whose container is still there still takes room); and
 * - every other container the node reports as not exited (e.g. one being removed after a
 *   reschedule): it takes room until it is gone. Its resources are those of its codespace when
 *   known, otherwise the defaults, so that an unknown container is never counted as free.
 *
 * Capacity is the node's total `capacity`, not its `allocatable`: the agent reports allocatable as
 * what is still free (capacity minus its running containers), and usage is counted here, so
 * starting from allocatable would count every running container twice and fill a node at half
 * its size.
 */
export function nodeViewsFrom(
  nodes: readonly NodeRecord[],
  codespaces: readonly AssignedCodespace[],
): NodeView[] {
  const byUid = new Map<string, AssignedCodespace>();
  const assignedByNode = new Map<string, AssignedCodespace[]>();
  for (const codespace of codespaces) {
    byUid.set(codespace.metadata.uid, codespace);
    const nodeName = codespace.status.nodeName;
    if (nodeName === undefined) continue;
    const list = assignedByNode.get(nodeName);
    if (list === undefined) assignedByNode.set(nodeName, [codespace]);
    else list.push(codespace);
  }
  return nodes.map((node) =>
    nodeViewOf(node, assignedByNode.get(node.name) ?? [], (uid) => byUid.get(uid)?.spec.resources),
  );
}

/**
 * One node's view (the counting rules of `nodeViewsFrom`), from the codespaces assigned to it and
 * a lookup of any codespace's resources by uid. Callers that keep these indexes up to date
 * (the reconciler's cache) rebuild one node's view without looking at every codespace.
 */
export function nodeViewOf(
  node: NodeRecord,
  assigned: Iterable<AssignedCodespace>,
  resourcesOf: (uid: string) => Pick<Resources, 'cpu' | 'memoryMiB'> | undefined,
): NodeView {
  // Runs for every node whose inputs changed (each placement, each changed report): plain loops,
  // no per-call closures.
  const occupyingContainers = new Set<string>();
  for (const container of node.containers) {
    if (containerOccupies(container.state)) occupyingContainers.add(container.uid);
  }
  const counted = new Set<string>();
  let slots = 0;
  let cpuMilli = 0;
  let memoryMiB = 0;
  for (const codespace of assigned) {
    const uid = codespace.metadata.uid;
    if (counted.has(uid)) continue;
    if (!phasesHoldingCapacity.has(codespace.status.phase) && !occupyingContainers.has(uid)) continue;
    counted.add(uid);
    slots += 1;
    cpuMilli += toMilliCpu(codespace.spec.resources.cpu);
    memoryMiB += codespace.spec.resources.memoryMiB;
  }
  for (const uid of occupyingContainers) {
    if (counted.has(uid)) continue;
    counted.add(uid);
    const resources = resourcesOf(uid) ?? resourceDefaults;
    slots += 1;
    cpuMilli += toMilliCpu(resources.cpu);
    memoryMiB += resources.memoryMiB;
  }
  return {
    name: node.name,
    ready: isReady(node),
    unschedulable: node.unschedulable,
    draining: node.draining,
    capacity: { ...node.capacity },
    used: { slots, cpu: fromMilliCpu(cpuMilli), memoryMiB },
    volumes: new Set(node.volumes),
  };
}

/**
 * CPU is compared in integer millicores: summing fractional cores in floating point would let
 * 0.1 + 0.2 exceed 0.3 and refuse a fit that is exact.
 */
export function toMilliCpu(cpu: number): number {
  return Math.round(cpu * 1000);
}

export function fromMilliCpu(milli: number): number {
  return milli / 1000;
}
