import type { ReconcilerConfig } from '../config.js';
import { findCondition, seconds, setCondition } from '../conditions.js';
import { requeueAfter, type Pass } from './pass.js';

/** Phases in which something is under way and a deadline applies. */
export type TransitionalPhase = 'Scheduled' | 'Starting' | 'Stopping' | 'Deleting';

const deadlineKeyByPhase: Record<TransitionalPhase, keyof ReconcilerConfig> = {
  Scheduled: 'scheduledDeadlineMs',
  Starting: 'startingDeadlineMs',
  Stopping: 'stoppingDeadlineMs',
  Deleting: 'deletingDeadlineMs',
};

export function phaseDeadlineMs(phase: TransitionalPhase, config: ReconcilerConfig): number {
  return config[deadlineKeyByPhase[phase]] as number;
}

/**
 * Marks the codespace as under way in `phase` and checks the phase's deadline. Returns true when
 * the deadline has passed (the caller then fails the codespace with a reason); otherwise asks to
 * be looked at again when it would pass.
 */
export function progressing(pass: Pass, phase: TransitionalPhase, message: string): boolean {
  const { draft } = pass;
  draft.phase = phase;
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'True', reason: phase, message },
    pass.nowIso,
  );
  const since = Math.max(
    Date.parse(findCondition(draft.conditions, 'Progressing')?.lastTransitionTime ?? pass.nowIso),
    pass.input.visibleSinceMs ?? Number.NEGATIVE_INFINITY,
  );
  const deadlineMs = phaseDeadlineMs(phase, pass.input.config);
  const remainingMs = since + deadlineMs - pass.input.nowMs;
  if (remainingMs < 0) return true;
  requeueAfter(pass, remainingMs + 1);
  return false;
}

/** When the current `phase` began (its Progressing condition), or now when it begins with this pass. */
export function progressSinceMs(pass: Pass, phase: TransitionalPhase): number {
  const progress = findCondition(pass.draft.conditions, 'Progressing');
  // Failed by this phase's deadline, the work goes on: the failure time is after it began.
  const going =
    progress?.reason === phase ||
    (progress?.reason === 'ProgressDeadlineExceeded' && pass.draft.phase === 'Failed');
  return going && progress !== undefined ? Date.parse(progress.lastTransitionTime) : pass.input.nowMs;
}

/** A deadline passed: Failed, with what happened and what the user can do. */
export function fail(pass: Pass, reason: string, message: string): void {
  const { draft } = pass;
  draft.phase = 'Failed';
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message },
    pass.nowIso,
  );
  setCondition(draft.conditions, { type: 'Ready', status: 'False', reason, message }, pass.nowIso);
  pass.actions.push({ kind: 'markFailed', reason: message });
}

/** Failed by a deadline earlier: stays Failed (no new timer) while the same work goes on. */
export function failedByDeadline(pass: Pass): boolean {
  return (
    pass.draft.phase === 'Failed' &&
    findCondition(pass.draft.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded'
  );
}

export function checkStartingDeadline(pass: Pass, nodeName: string, message: string): void {
  if (progressing(pass, 'Starting', message)) {
    pass.actions.push({ kind: 'stop', nodeName, reason: 'User' });
    pass.draft.stopReason = 'Failed';
    fail(
      pass,
      'StartTimedOut',
      `did not become ready within ${seconds(pass.input.config.startingDeadlineMs)} s on node ${nodeName}; ` +
        'retry with start or force stop',
    );
  }
}
