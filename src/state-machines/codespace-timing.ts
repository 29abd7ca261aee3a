import type { Phase } from '../model/codespace.js';
import type { CodespaceMachineContext, CodespaceState } from './codespace-types.js';

/**
 * How long each transient phase may last before the codespace is Failed with a reason the user
 * can act on: "stuck starting forever" is the complaint this exists to prevent.
 */
export const scheduledDeadlineMs = 30_000;
export const startingDeadlineMs = 120_000;
export const stoppingDeadlineMs = 60_000;
export const deletingDeadlineMs = 120_000;

/** Crashes in a row (without a clean stop or a long enough run between) before giving up. */
export const maxConsecutiveCrashes = 5;
/** First wait before restarting a crashed container; doubles with each further crash. */
export const restartBackoffBaseMs = 10_000;
export const restartBackoffMaxMs = 300_000;
/** A crash after running this long starts a new count: the container had been healthy. */
export const crashCountResetAfterRunningMs = 600_000;

/** The codespace machine's bounds; the reconciler's config may override any of them. */
export interface CodespaceTiming {
  readonly scheduledDeadlineMs: number;
  readonly startingDeadlineMs: number;
  readonly stoppingDeadlineMs: number;
  readonly deletingDeadlineMs: number;
  readonly maxConsecutiveCrashes: number;
  readonly restartBackoffBaseMs: number;
  readonly restartBackoffMaxMs: number;
  readonly crashCountResetAfterRunningMs: number;
}

export const codespaceTimingDefaults: CodespaceTiming = {
  scheduledDeadlineMs,
  startingDeadlineMs,
  stoppingDeadlineMs,
  deletingDeadlineMs,
  maxConsecutiveCrashes,
  restartBackoffBaseMs,
  restartBackoffMaxMs,
  crashCountResetAfterRunningMs,
};

/** The deadline of a transient phase, or undefined for phases that may last (Pending waits for capacity). */
export function phaseDeadlineMs(
  phase: Phase,
  timing: CodespaceTiming = codespaceTimingDefaults,
): number | undefined {
  switch (phase) {
    case 'Scheduled':
      return timing.scheduledDeadlineMs;
    case 'Starting':
      return timing.startingDeadlineMs;
    case 'Stopping':
      return timing.stoppingDeadlineMs;
    case 'Deleting':
      return timing.deletingDeadlineMs;
    default:
      return undefined;
  }
}

/** Wait before restart number `restartCount` (1 = after the first crash): 10 s, 20 s, 40 s … capped at 5 min. */
export function restartBackoffMs(
  restartCount: number,
  timing: Pick<CodespaceTiming, 'restartBackoffBaseMs' | 'restartBackoffMaxMs'> = codespaceTimingDefaults,
): number {
  if (restartCount <= 0) return 0;
  // Cap the exponent too, so a huge count cannot overflow to Infinity.
  const exponent = Math.min(restartCount - 1, 30);
  return Math.min(timing.restartBackoffBaseMs * 2 ** exponent, timing.restartBackoffMaxMs);
}

/** Seconds, for messages people read. */
export function secondsText(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** When the current transient phase times out; undefined for phases without a deadline. */
export function phaseDeadlineAtMs(
  phase: CodespaceState,
  context: Pick<CodespaceMachineContext, 'phaseSinceMs' | 'retryNotBeforeMs'>,
  timing: CodespaceTiming = codespaceTimingDefaults,
): number | undefined {
  if (phase === 'Deleted') return undefined;
  const deadline = phaseDeadlineMs(phase, timing);
  if (deadline === undefined) return undefined;
  // After a crash the clock starts when the backoff ends, not when the crash was seen.
  return Math.max(context.phaseSinceMs, context.retryNotBeforeMs ?? 0) + deadline;
}

/** The crash count after this crash: a long healthy run means the earlier crashes no longer count. */
export function restartCountAfterCrash(
  context: Pick<CodespaceMachineContext, 'phaseSinceMs' | 'restartCount'>,
  crash: { readonly atMs: number; readonly wasRunning: boolean },
  timing: Pick<CodespaceTiming, 'crashCountResetAfterRunningMs'> = codespaceTimingDefaults,
): number {
  const healthyRun =
    crash.wasRunning && crash.atMs - context.phaseSinceMs >= timing.crashCountResetAfterRunningMs;
  return healthyRun ? 1 : context.restartCount + 1;
}
