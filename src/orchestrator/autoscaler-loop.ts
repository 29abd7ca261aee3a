import type { Logger } from 'pino';
import { decideScaling, type AutoscalerOptions } from '../fleet/autoscaler-policy.js';
import type { FleetProvider } from '../fleet/fleet-provider.js';
import type { Codespace } from '../model/codespace.js';
import type { Store } from '../store/store.js';
import { autoscalerSnapshot, emptyAutoscalerMemory } from './autoscaler-snapshot.js';

export const autoscalerIntervalMsDefault = 5_000;

export interface AutoscalerLoopOptions {
  readonly store: Store;
  readonly fleet: FleetProvider;
  /** The reconciler's cached view; the autoscaler reads no codespace from the store itself. */
  readonly codespaces: () => readonly Codespace[];
  /** Only the reconciler leader scales the fleet. */
  readonly isLeader: () => boolean;
  readonly policy: AutoscalerOptions;
  readonly nodeNotReadyAfterMs: number;
  readonly intervalMs?: number;
  readonly nowMs?: () => number;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
}

/**
 * Runs the pure autoscaler policy every few seconds on the leader and carries out its
 * decision: desired capacity and terminations through the fleet provider, cordons through the
 * store. Each pass reads the world afresh, so a failed call is simply decided again next time.
 */
export function startAutoscalerLoop(options: AutoscalerLoopOptions): { stop(): void; pass(): Promise<void> } {
  const memory = emptyAutoscalerMemory();
  const nowMs = options.nowMs ?? Date.now;
  let running: Promise<void> | undefined;

  const pass = async (): Promise<void> => {
    if (!options.isLeader()) return;
    const [fleet, nodes] = await Promise.all([options.fleet.describe(), options.store.listNodes()]);
    const now = nowMs();
    const snapshot = autoscalerSnapshot({
      fleet,
      nodes,
      codespaces: options.codespaces(),
      memory,
      nowMs: now,
      nodeNotReadyAfterMs: options.nodeNotReadyAfterMs,
    });
    const decision = decideScaling(snapshot, options.policy);
    const acting =
      decision.setDesired !== undefined ||
      decision.cordon.length + decision.uncordon.length + decision.terminate.length > 0;
    if (!acting) return;
    options.logger?.info({ decision, waiting: snapshot.waiting.count }, 'autoscaler decision');
    for (const name of decision.uncordon) {
      await options.store.setNodeUnschedulable(name, false);
      memory.cordonedForScaleInAtMs.delete(name);
    }
    for (const name of decision.cordon) {
      await options.store.setNodeUnschedulable(name, true);
      memory.cordonedForScaleInAtMs.set(name, now);
    }
    if (decision.setDesired !== undefined) {
      if (decision.setDesired > fleet.desiredCapacity) memory.lastScaleOutAtMs = now;
      await options.fleet.setDesiredCapacity(decision.setDesired);
    }
    for (const name of decision.terminate) {
      memory.lastScaleInAtMs = now;
      await options.fleet.terminate(name, { decrementDesiredCapacity: true });
    }
  };

  const timer = setInterval(() => {
    if (running) return;
    running = pass()
      .catch((error: unknown) =>
        options.logger?.warn({ err: error }, 'autoscaler pass failed; next pass retries'),
      )
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs ?? autoscalerIntervalMsDefault);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    pass,
  };
}
