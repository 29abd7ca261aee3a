import { silentFleetLogger, type FleetLogger } from './fleet-logger.js';
import type { LifecycleActionStatus, TerminationLifecycle } from './fleet-provider.js';

/**
 * What to do when an instance is going away (the termination lifecycle hook fired — from the
 * SQS queue on AWS, from `LocalFleetProvider`'s callback locally): cordon the node, stop its
 * codespaces cleanly with their files kept (they end Stopped with reason `NodeTerminating`; the
 * user starts them again and placement puts them elsewhere), keep the hook alive with heartbeats
 * while that takes time, then complete the action with CONTINUE so the termination proceeds.
 *
 * Files: a codespace's volume lives on the node's disk. Locally the volume survives the node
 * (same Docker engine). On AWS the instance's disk goes with it, so a moved codespace starts
 * with a fresh volume unless the agent snapshots volumes to shared storage (S3) — not built yet;
 * see docs/fleet.md.
 */

/** What the orchestrator (reconciler + store) provides; fakes in tests. */
export interface NodeDrainer {
  /** Marks the node unschedulable: no new placements. Idempotent. */
  cordon(nodeName: string): Promise<void>;
  /** Asks every codespace on the node to stop, files kept, with this reason. Idempotent. */
  stopCodespacesOn(nodeName: string, reason: 'NodeTerminating'): Promise<void>;
  /** True once no codespace on the node still runs or stops. */
  isDrained(nodeName: string): Promise<boolean>;
}

export type TerminationHookLogger = FleetLogger;

export interface TerminationHookOptions {
  /** How often to look at the node while it drains. Default 2 s. */
  readonly drainPollIntervalMs?: number;
  /**
   * How often to heartbeat the hook. Must stay well below the hook's heartbeat timeout (the CDK
   * stack sets 300 s). Default 60 s.
   */
  readonly hookHeartbeatIntervalMs?: number;
  /** How often to ask again for the stops (a command may have been lost). Default 30 s. */
  readonly restopIntervalMs?: number;
  /**
   * Give up waiting and let the termination go on after this long: a drain that never finishes
   * must not hold an instance forever. Default 15 min.
   */
  readonly drainTimeoutMs?: number;
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger?: TerminationHookLogger;
}

export const drainPollIntervalMsDefault = 2_000;
export const hookHeartbeatIntervalMsDefault = 60_000;
export const restopIntervalMsDefault = 30_000;
export const drainTimeoutMsDefault = 15 * 60_000;

export type TerminationOutcome =
  /** Drained, then the action was completed. */
  | 'drained'
  /** The drain did not finish in time; the action was completed anyway. */
  | 'drainTimedOut'
  /** The hook was no longer waiting (timed out or completed elsewhere): nothing left to hold. */
  | 'hookExpired';

export async function handleTermination(
  nodeName: string,
  deps: { drainer: NodeDrainer; lifecycle: TerminationLifecycle },
  options: TerminationHookOptions,
): Promise<TerminationOutcome> {
  const pollMs = options.drainPollIntervalMs ?? drainPollIntervalMsDefault;
  const heartbeatMs = options.hookHeartbeatIntervalMs ?? hookHeartbeatIntervalMsDefault;
  const restopMs = options.restopIntervalMs ?? restopIntervalMsDefault;
  const timeoutMs = options.drainTimeoutMs ?? drainTimeoutMsDefault;
  const logger = options.logger ?? silentFleetLogger;
  const { drainer, lifecycle } = deps;

  const startedMs = options.nowMs();
  logger.info({ node: nodeName }, 'node terminating: cordon and drain');
  await drainer.cordon(nodeName);
  await drainer.stopCodespacesOn(nodeName, 'NodeTerminating');
  let lastHeartbeatMs = startedMs;
  let lastStopMs = startedMs;

  const complete = async (outcome: TerminationOutcome): Promise<TerminationOutcome> => {
    const status: LifecycleActionStatus = await lifecycle.completeLifecycleAction(nodeName, 'CONTINUE');
    if (status === 'expired') {
      logger.warn({ node: nodeName }, 'lifecycle action already gone when completing: hook timed out');
      return 'hookExpired';
    }
    logger.info(
      { node: nodeName, outcome, tookMs: options.nowMs() - startedMs },
      'lifecycle action completed',
    );
    return outcome;
  };

  for (;;) {
    if (await drainer.isDrained(nodeName)) return complete('drained');
    const nowMs = options.nowMs();
    if (nowMs - startedMs >= timeoutMs) {
      logger.warn(
        { node: nodeName, drainTimeoutMs: timeoutMs },
        'drain timed out: letting the termination proceed',
      );
      return complete('drainTimedOut');
    }
    if (nowMs - lastHeartbeatMs >= heartbeatMs) {
      lastHeartbeatMs = nowMs;
      if ((await lifecycle.recordLifecycleActionHeartbeat(nodeName)) === 'expired') {
        logger.warn({ node: nodeName }, 'lifecycle action no longer active: hook timed out, stop waiting');
        return 'hookExpired';
      }
    }
    if (nowMs - lastStopMs >= restopMs) {
      lastStopMs = nowMs;
      await drainer.stopCodespacesOn(nodeName, 'NodeTerminating');
    }
    await options.sleep(pollMs);
  }
}

/**
 * Runs `handleTermination` at most once at a time per node: SQS delivers at least once, and the
 * local provider and a retry may both report the same node.
 */
export class TerminationHookHandler {
  private readonly inFlight = new Map<string, Promise<TerminationOutcome>>();

  constructor(
    private readonly deps: { drainer: NodeDrainer; lifecycle: TerminationLifecycle },
    private readonly options: TerminationHookOptions,
  ) {}

  onTerminating(nodeName: string): Promise<TerminationOutcome> {
    const running = this.inFlight.get(nodeName);
    if (running) return running;
    const work = handleTermination(nodeName, this.deps, this.options).finally(() =>
      this.inFlight.delete(nodeName),
    );
    this.inFlight.set(nodeName, work);
    return work;
  }

  /** Nodes whose drain is in progress. */
  get draining(): readonly string[] {
    return [...this.inFlight.keys()];
  }
}
