/** Failure reasons and messages: each says what happened, where, and what the user can do. */
import type { Phase } from '../model/codespace.js';
import { phaseDeadlineMs, secondsText, type CodespaceTiming } from './codespace-timing.js';
import type { CodespaceFailure, CodespaceMachineContext } from './codespace-types.js';

function onNode(context: Pick<CodespaceMachineContext, 'nodeName'>): string {
  return context.nodeName === undefined ? '' : ` on node ${context.nodeName}`;
}

/** What a missed deadline means for the user, per phase. */
export function deadlineFailure(
  phase: Phase,
  context: Pick<CodespaceMachineContext, 'nodeName'>,
  timing: CodespaceTiming,
): CodespaceFailure {
  const within = secondsText(phaseDeadlineMs(phase, timing) ?? 0);
  const where = onNode(context);
  switch (phase) {
    case 'Scheduled':
      return {
        reason: 'ScheduleDeadlineExceeded',
        message: `was placed${where} but could not be started there within ${within}; retry to place it again`,
      };
    case 'Starting':
      return {
        reason: 'StartDeadlineExceeded',
        message: `did not become ready within ${within}${where}; retry or force stop`,
      };
    case 'Stopping':
      return {
        reason: 'StopDeadlineExceeded',
        message: `did not stop within ${within}${where}; retry or force stop`,
      };
    default:
      return {
        reason: 'DeleteDeadlineExceeded',
        message: `was not removed within ${within}${where}; retry the delete`,
      };
  }
}

export function crashLoopFailure(
  context: Pick<CodespaceMachineContext, 'nodeName'>,
  exitCode: number | undefined,
  timing: Pick<CodespaceTiming, 'maxConsecutiveCrashes'>,
): CodespaceFailure {
  const code = exitCode === undefined ? '' : ` (last exit code ${exitCode})`;
  return {
    reason: 'CrashLoop',
    message: `crashed ${timing.maxConsecutiveCrashes} times in a row${onNode(context)}${code}; check the image and its start command, then retry`,
  };
}
