import { maxContainersPerNodeDefault } from '../model/limits.js';
import type { PlacementStrategy } from '../placement/fit.js';
import * as timing from '../state-machines/codespace-timing.js';

/**
 * Every bound the reconciler works to. Defaults follow Kubernetes where it has an answer
 * (node monitor grace, unhealthy-zone threshold, leader lease) and are sized for heartbeats
 * every few seconds.
 */
export interface ReconcilerConfig {
  /** Scheduled (placed, no container reported yet) may last this long before Failed. */
  readonly scheduledDeadlineMs: number;
  /** Starting (container reported, not yet ready) may last this long before Failed. */
  readonly startingDeadlineMs: number;
  /** Stopping may last this long before Failed (stop keeps being retried). */
  readonly stoppingDeadlineMs: number;
  /** Deleting may last this long before Failed (removal keeps being retried). */
  readonly deletingDeadlineMs: number;
  /** Crashes in a row before the codespace is Failed instead of restarted. */
  readonly restartLimit: number;
  readonly restartBackoffBaseMs: number;
  readonly restartBackoffMaxMs: number;
  /** A container running this long clears its crash count (Kubernetes resets backoff after 10 min). */
  readonly restartCountResetAfterMs: number;
  /** How soon to look again while waiting for a node's next report to confirm a stop or removal. */
  readonly reportRecheckMs: number;
  /** How soon to look again at a codespace no node can take. */
  readonly unschedulableRetryMs: number;
  /** Without a heartbeat for this long a node is NotReady (Kubernetes node-monitor-grace-period: 40 s). */
  readonly nodeNotReadyAfterMs: number;
  /** Without a heartbeat for this long a node is Lost and gets fenced. */
  readonly nodeLostGraceMs: number;
  /** Above this fraction of nodes silent at once, suspect ourselves and fence nobody. */
  readonly unhealthyZoneThreshold: number;
  readonly placementStrategy: PlacementStrategy;
  readonly maxContainersPerNode: number;
}

export const reconcilerConfigDefaults: ReconcilerConfig = {
  // The lifecycle's own timing (src/state-machines), so the machines and the planner agree.
  scheduledDeadlineMs: timing.scheduledDeadlineMs,
  startingDeadlineMs: timing.startingDeadlineMs,
  stoppingDeadlineMs: timing.stoppingDeadlineMs,
  deletingDeadlineMs: timing.deletingDeadlineMs,
  restartLimit: timing.maxConsecutiveCrashes,
  restartBackoffBaseMs: timing.restartBackoffBaseMs,
  restartBackoffMaxMs: timing.restartBackoffMaxMs,
  restartCountResetAfterMs: timing.crashCountResetAfterRunningMs,
  reportRecheckMs: 2_000,
  unschedulableRetryMs: 10_000,
  nodeNotReadyAfterMs: 40_000,
  nodeLostGraceMs: 120_000,
  unhealthyZoneThreshold: 0.55,
  placementStrategy: 'binpack',
  maxContainersPerNode: maxContainersPerNodeDefault,
};

/** Exponential restart backoff: base, 2×base, 4×base … capped. `restartCount` counts crashes so far (≥ 1). */
export function restartBackoffMs(restartCount: number, config: ReconcilerConfig): number {
  const exponent = Math.max(0, Math.min(restartCount - 1, 30));
  return Math.min(config.restartBackoffBaseMs * 2 ** exponent, config.restartBackoffMaxMs);
}
