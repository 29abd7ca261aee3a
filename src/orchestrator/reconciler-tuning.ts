import type { OrchestratorConfig } from './config.js';
import type { StartOrchestratorOptions } from './start-orchestrator.js';

/**
 * The reconciler and leader-election timings the config overrides; only the settings present
 * are passed, so everything else keeps the reconciler's own defaults.
 */
export function reconcilerTuningFromConfig(
  config: OrchestratorConfig,
): NonNullable<StartOrchestratorOptions['reconciler']> {
  const electorTiming = definedOnly({
    leaseDurationMs: config.leaderLeaseDurationMs,
    renewDeadlineMs: config.leaderRenewDeadlineMs,
    renewIntervalMs: config.leaderRenewIntervalMs,
    retryPeriodMs: config.leaderRetryPeriodMs,
    storeCallTimeoutMs: config.leaderStoreCallTimeoutMs,
  });
  return {
    config: definedOnly({ nodeLostGraceMs: config.nodeLostGraceMs }),
    timing: definedOnly({ resyncIntervalMs: config.resyncIntervalMs }),
    electorTiming,
  };
}

function definedOnly<T extends Record<string, number | undefined>>(values: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: number;
  };
}
