import type { AutoscalerNode, AutoscalerSnapshot } from '../fleet/autoscaler-policy.js';
import type { FleetDescription } from '../fleet/fleet-provider.js';
import type { Codespace } from '../model/codespace.js';
import type { NodeRecord } from '../model/node.js';

/** Placement reasons that mean "more nodes would help". */
const waitingReasons: ReadonlySet<string> = new Set([
  'NoNodes',
  'NoReadyNodes',
  'NoSchedulableNodes',
  'InsufficientCapacity',
  'NodeTerminating',
]);

/** Phases in which a codespace holds a slot on its node. */
const slotHoldingPhases: ReadonlySet<Codespace['status']['phase']> = new Set([
  'Scheduled',
  'Starting',
  'Running',
  'Stopping',
  'Deleting',
]);

/** What the autoscaler remembers between passes (the policy itself is stateless). */
export interface AutoscalerMemory {
  /** Node → when the loop first saw it (stands in for launch time). */
  readonly firstSeenMs: Map<string, number>;
  /** Node → since when it has held no codespace. */
  readonly emptySinceMs: Map<string, number>;
  /** Node → when the autoscaler cordoned it for scale-in. */
  readonly cordonedForScaleInAtMs: Map<string, number>;
  lastScaleOutAtMs?: number;
  lastScaleInAtMs?: number;
}

export function emptyAutoscalerMemory(): AutoscalerMemory {
  return { firstSeenMs: new Map(), emptySinceMs: new Map(), cordonedForScaleInAtMs: new Map() };
}

export function isWaitingForCapacity(codespace: Codespace): boolean {
  if (!codespace.spec.running || codespace.metadata.deletionTimestamp !== undefined) return false;
  if (codespace.status.phase !== 'Pending') return false;
  const scheduled = codespace.status.conditions.find((c) => c.type === 'Scheduled');
  return scheduled === undefined || (scheduled.status === 'False' && waitingReasons.has(scheduled.reason));
}

/**
 * Builds the policy's snapshot from the fleet, the node records and the codespaces, and
 * updates `memory` (first-seen and empty-since clocks). Pure but for `memory`, which the caller
 * owns; time comes in as `nowMs`.
 */
export function autoscalerSnapshot(input: {
  fleet: FleetDescription;
  nodes: readonly NodeRecord[];
  codespaces: readonly Codespace[];
  memory: AutoscalerMemory;
  nowMs: number;
  nodeNotReadyAfterMs: number;
}): AutoscalerSnapshot {
  const { memory, nowMs } = input;
  const records = new Map(input.nodes.map((n) => [n.name, n]));
  const used = new Map<string, number>();
  for (const codespace of input.codespaces) {
    const node = codespace.status.nodeName;
    if (node !== undefined && slotHoldingPhases.has(codespace.status.phase))
      used.set(node, (used.get(node) ?? 0) + 1);
  }
  const live = input.fleet.instances.filter((i) => i.lifecycle !== 'Terminated');
  const liveNames = new Set(live.map((i) => i.nodeName));
  for (const map of [memory.firstSeenMs, memory.emptySinceMs, memory.cordonedForScaleInAtMs]) {
    for (const name of map.keys()) if (!liveNames.has(name)) map.delete(name);
  }
  const nodes: AutoscalerNode[] = live.map((instance) => {
    const name = instance.nodeName;
    const record = records.get(name);
    const fresh = record !== undefined && nowMs - record.lastHeartbeatReceivedMs < input.nodeNotReadyAfterMs;
    const ready = fresh && record.ready && instance.lifecycle === 'InService';
    const usedSlots = Math.max(used.get(name) ?? 0, runningContainers(record));
    if (!memory.firstSeenMs.has(name)) memory.firstSeenMs.set(name, nowMs);
    if (usedSlots > 0) memory.emptySinceMs.delete(name);
    else if (ready && !memory.emptySinceMs.has(name)) memory.emptySinceMs.set(name, nowMs);
    if (record?.unschedulable !== true) memory.cordonedForScaleInAtMs.delete(name);
    return {
      name,
      ready,
      launching:
        !ready && (instance.lifecycle === 'Pending' || (instance.lifecycle === 'InService' && !fresh)),
      cordoned: record?.unschedulable ?? false,
      cordonedForScaleInAtMs: memory.cordonedForScaleInAtMs.get(name),
      draining: instance.lifecycle === 'Terminating' || (record?.draining ?? false),
      usedSlots,
      capacitySlots: record?.capacity.slots ?? 0,
      emptySinceMs: memory.emptySinceMs.get(name),
      launchedAtMs: memory.firstSeenMs.get(name),
      volumeCount: record?.volumes.length ?? 0,
    };
  });
  const waiting = input.codespaces.filter(isWaitingForCapacity).length;
  return {
    nodes,
    waiting: { count: waiting, slots: waiting },
    minSize: input.fleet.minSize,
    maxSize: input.fleet.maxSize,
    desiredCapacity: input.fleet.desiredCapacity,
    lastScaleOutAtMs: memory.lastScaleOutAtMs,
    lastScaleInAtMs: memory.lastScaleInAtMs,
    nowMs,
  };
}

function runningContainers(record: NodeRecord | undefined): number {
  if (record === undefined) return 0;
  return record.containers.filter((c) => c.state !== 'exited').length;
}
