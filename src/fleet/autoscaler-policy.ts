/**
 * The autoscaler policy: a pure function of a fleet snapshot and `nowMs`. It never reads the
 * clock and does no I/O; the reconciler feeds it a snapshot, carries out the decision through
 * the store (cordon / uncordon) and the `FleetProvider` (desired capacity, terminate), and records
 * `lastScaleOutAtMs` / `lastScaleInAtMs` for the next pass.
 *
 * Scale out: when codespaces wait for capacity, add just enough nodes for the slots that neither
 * capacity already launching nor nodes we cordoned for scale-in (and can take back) will cover.
 * Scale in: two steps, so placement cannot race a termination — cordon a node that has been
 * empty for `scaleInCooldownMs`, then on a later pass, once it has stayed cordoned and empty for
 * `cordonSettleMs`, terminate that very instance (lowering desired by one). A node holding any
 * codespace is never a candidate (scale-in protection). Hysteresis: no scale-in for
 * `scaleInAfterScaleOutCooldownMs` after a scale-out, and nodes cordoned for scale-in are
 * uncordoned as soon as demand returns.
 */

export const scaleInCooldownMsDefault = 5 * 60_000;
export const scaleInAfterScaleOutCooldownMsDefault = 5 * 60_000;
/** Long enough for a placement decided just before the cordon to show up in `usedSlots`. */
export const cordonSettleMsDefault = 15_000;
export const maxScaleOutStepNodesDefault = 10;
export const maxScaleInStepNodesDefault = 1;

export interface AutoscalerNode {
  /** Unique within a snapshot; the node name the agent reports (instance id on AWS). */
  readonly name: string;
  /** Heartbeating and ready to take codespaces. */
  readonly ready: boolean;
  /** Launched but not ready yet: capacity on its way. */
  readonly launching: boolean;
  /** Cordoned by anyone (operator or autoscaler): no new placements. */
  readonly cordoned: boolean;
  /** When the autoscaler cordoned it for scale-in; absent when not cordoned by the autoscaler. */
  readonly cordonedForScaleInAtMs?: number | undefined;
  /** Leaving (termination hook draining it): neither capacity nor a candidate. */
  readonly draining: boolean;
  /** Slots held, counting the orchestrator's own assignments not yet reported by the node. */
  readonly usedSlots: number;
  /** Total slots; 0 when a launching node has not reported yet (then `slotsPerNode` is assumed). */
  readonly capacitySlots: number;
  /** Since when the node has held no codespace; absent while it holds any. */
  readonly emptySinceMs?: number | undefined;
  /** When the instance was launched: the most recent goes first on scale-in. */
  readonly launchedAtMs?: number | undefined;
  /** Volumes of stopped codespaces on the node's disk (see `keepNodesWithVolumes`). */
  readonly volumeCount?: number | undefined;
}

export interface AutoscalerSnapshot {
  readonly nodes: readonly AutoscalerNode[];
  /** Codespaces that placement could not place for lack of capacity (`InsufficientCapacity`/`NoNodes`). */
  readonly waiting: { readonly count: number; readonly slots: number };
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  readonly lastScaleOutAtMs?: number | undefined;
  readonly lastScaleInAtMs?: number | undefined;
  readonly nowMs: number;
}

export interface AutoscalerOptions {
  /** How long a node must stay empty before it is cordoned for scale-in. Default 5 min. */
  readonly scaleInCooldownMs?: number;
  /** How long a scale-out blocks any scale-in. Default 5 min. */
  readonly scaleInAfterScaleOutCooldownMs?: number;
  /** How long a node stays cordoned (and empty) before it is terminated. Default 15 s. */
  readonly cordonSettleMs?: number;
  /** Slots a new node brings (the instance type's capacity). */
  readonly slotsPerNode: number;
  /** Most nodes added in one decision. Default 10. */
  readonly maxScaleOutStepNodes?: number;
  /** Most nodes cordoned or terminated in one decision. Default 1. */
  readonly maxScaleInStepNodes?: number;
  /**
   * Never scale in a node that holds volumes. Where volumes are local to the instance (AWS),
   * terminating such a node loses stopped codespaces' files; keeping it costs a node per volume
   * holder. Default false (empty means no codespace holds a slot).
   */
  readonly keepNodesWithVolumes?: boolean;
}

export interface AutoscalerDecision {
  /** New desired capacity, when it should change (scale-out or bringing it into [min, max]). */
  readonly setDesired?: number;
  /** Nodes to cordon for scale-in (record `cordonedForScaleInAtMs` = now). */
  readonly cordon: readonly string[];
  /** Nodes the autoscaler cordoned that should take codespaces again. */
  readonly uncordon: readonly string[];
  /** Nodes to terminate, each lowering desired capacity by one. */
  readonly terminate: readonly string[];
  readonly reason: string;
}

interface ResolvedOptions {
  readonly scaleInCooldownMs: number;
  readonly scaleInAfterScaleOutCooldownMs: number;
  readonly cordonSettleMs: number;
  readonly slotsPerNode: number;
  readonly maxScaleOutStepNodes: number;
  readonly maxScaleInStepNodes: number;
  readonly keepNodesWithVolumes: boolean;
}

function resolve(options: AutoscalerOptions): ResolvedOptions {
  return {
    scaleInCooldownMs: options.scaleInCooldownMs ?? scaleInCooldownMsDefault,
    scaleInAfterScaleOutCooldownMs:
      options.scaleInAfterScaleOutCooldownMs ?? scaleInAfterScaleOutCooldownMsDefault,
    cordonSettleMs: options.cordonSettleMs ?? cordonSettleMsDefault,
    slotsPerNode: Math.max(1, options.slotsPerNode),
    maxScaleOutStepNodes: Math.max(1, options.maxScaleOutStepNodes ?? maxScaleOutStepNodesDefault),
    maxScaleInStepNodes: Math.max(1, options.maxScaleInStepNodes ?? maxScaleInStepNodesDefault),
    keepNodesWithVolumes: options.keepNodesWithVolumes ?? false,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

const isCordonedForScaleIn = (node: AutoscalerNode): boolean =>
  node.cordoned && node.cordonedForScaleInAtMs !== undefined;

/** Empty now, and empty for at least the cool-down: the only nodes scale-in may touch. */
function emptyForCooldown(node: AutoscalerNode, nowMs: number, o: ResolvedOptions): boolean {
  if (o.keepNodesWithVolumes && (node.volumeCount ?? 0) > 0) return false;
  return (
    node.usedSlots === 0 &&
    node.emptySinceMs !== undefined &&
    nowMs - node.emptySinceMs >= o.scaleInCooldownMs
  );
}

/** Most recently launched first, then by name so the choice is deterministic. */
function scaleInOrder(a: AutoscalerNode, b: AutoscalerNode): number {
  const launched = (b.launchedAtMs ?? 0) - (a.launchedAtMs ?? 0);
  if (launched !== 0) return launched;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Slots that will appear without a new launch: launching nodes plus instances not yet seen at all. */
function launchingSlots(snapshot: AutoscalerSnapshot, slotsPerNode: number): number {
  const present = snapshot.nodes.filter((n) => !n.draining);
  const launching = present
    .filter((n) => n.launching && !n.ready)
    .reduce((sum, n) => sum + (n.capacitySlots > 0 ? n.capacitySlots : slotsPerNode), 0);
  const notYetSeen = Math.max(0, snapshot.desiredCapacity - present.length);
  return launching + notYetSeen * slotsPerNode;
}

export function decideScaling(snapshot: AutoscalerSnapshot, options: AutoscalerOptions): AutoscalerDecision {
  const o = resolve(options);
  const { nowMs, minSize } = snapshot;
  const maxSize = Math.max(minSize, snapshot.maxSize);
  const desired = snapshot.desiredCapacity;
  const scaleInCordoned = snapshot.nodes.filter(isCordonedForScaleIn);

  if (snapshot.waiting.count > 0 && snapshot.waiting.slots > 0) {
    // Demand is back: nodes we were about to remove take codespaces again before anything launches.
    const uncordon = scaleInCordoned.filter((n) => !n.draining);
    const reclaimed = uncordon.reduce((sum, n) => sum + Math.max(0, n.capacitySlots - n.usedSlots), 0);
    const shortfall = snapshot.waiting.slots - launchingSlots(snapshot, o.slotsPerNode) - reclaimed;
    const wanted =
      shortfall > 0 ? Math.min(Math.ceil(shortfall / o.slotsPerNode), o.maxScaleOutStepNodes) : 0;
    const target = clamp(desired + wanted, minSize, maxSize);
    const names = uncordon.map((n) => n.name);
    if (target !== desired) {
      const why =
        target > desired
          ? `scale out by ${target - desired}: ${snapshot.waiting.count} codespaces wait for ${snapshot.waiting.slots} slots, ${shortfall} not covered by launching or reclaimed capacity`
          : `desired ${desired} above max ${maxSize}`;
      return { setDesired: target, cordon: [], uncordon: names, terminate: [], reason: why };
    }
    const why =
      wanted > 0
        ? `at max ${maxSize}: ${snapshot.waiting.count} codespaces wait`
        : `${snapshot.waiting.count} codespaces wait; launching or reclaimed capacity covers them`;
    return { cordon: [], uncordon: names, terminate: [], reason: why };
  }

  const bounded = clamp(desired, minSize, maxSize);
  if (bounded !== desired) {
    return {
      setDesired: bounded,
      cordon: [],
      uncordon: [],
      terminate: [],
      reason: `desired ${desired} outside [${minSize}, ${maxSize}]`,
    };
  }

  // A node we cordoned that got a codespace after all (placement raced the cordon) goes back in service.
  const keeps = (n: AutoscalerNode) =>
    n.usedSlots > 0 || (o.keepNodesWithVolumes && (n.volumeCount ?? 0) > 0);
  const reoccupied = scaleInCordoned.filter((n) => keeps(n) && !n.draining).map((n) => n.name);

  if (
    snapshot.lastScaleOutAtMs !== undefined &&
    nowMs - snapshot.lastScaleOutAtMs < o.scaleInAfterScaleOutCooldownMs
  ) {
    return {
      cordon: [],
      uncordon: scaleInCordoned.filter((n) => !n.draining).map((n) => n.name),
      terminate: [],
      reason: 'scale-in held: recent scale-out',
    };
  }

  // Never go below min: nodes already leaving and nodes being terminated all count against it.
  let removable = desired - minSize;
  const terminate: string[] = [];
  const settled = scaleInCordoned
    .filter((n) => !n.draining && n.ready && n.usedSlots === 0)
    .filter((n) => nowMs - (n.cordonedForScaleInAtMs ?? nowMs) >= o.cordonSettleMs)
    .filter((n) => emptyForCooldown(n, nowMs, o))
    .sort(scaleInOrder);
  for (const node of settled) {
    if (removable <= 0 || terminate.length >= o.maxScaleInStepNodes) break;
    terminate.push(node.name);
    removable -= 1;
  }

  // Nodes cordoned earlier and not terminated yet still count against min; any beyond what min
  // allows (min was raised meanwhile) go back in service rather than stay cordoned for good.
  const stillCordoned = scaleInCordoned
    .filter((n) => !n.draining && !keeps(n) && !terminate.includes(n.name))
    .sort(scaleInOrder);
  const excess = stillCordoned.slice(Math.max(0, removable)).map((n) => n.name);
  removable -= stillCordoned.length;
  const uncordon = [...reoccupied, ...excess];
  const cordon: string[] = [];
  const candidates = snapshot.nodes
    .filter((n) => n.ready && !n.launching && !n.cordoned && !n.draining)
    .filter((n) => emptyForCooldown(n, nowMs, o))
    .sort(scaleInOrder);
  for (const node of candidates) {
    if (removable <= 0 || cordon.length >= o.maxScaleInStepNodes) break;
    cordon.push(node.name);
    removable -= 1;
  }

  const parts: string[] = [];
  if (terminate.length > 0) parts.push(`terminate ${terminate.join(', ')}: empty and cordoned`);
  if (cordon.length > 0) parts.push(`cordon ${cordon.join(', ')}: empty for ${o.scaleInCooldownMs} ms`);
  if (reoccupied.length > 0) parts.push(`uncordon ${reoccupied.join(', ')}: holds codespaces again`);
  if (excess.length > 0) parts.push(`uncordon ${excess.join(', ')}: needed to stay at min ${minSize}`);
  return {
    cordon,
    uncordon,
    terminate,
    reason: parts.length > 0 ? parts.join('; ') : 'steady',
  };
}
