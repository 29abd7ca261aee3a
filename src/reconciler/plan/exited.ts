import type { ObservedContainer } from '../../model/node.js';
import { restartBackoffMs } from '../config.js';
import { findCondition, removeCondition, seconds, setCondition } from '../conditions.js';
import { checkStartingDeadline, fail } from './deadlines.js';
import { requeueAfter, type Pass } from './pass.js';
import { stoppedMessage } from './stopping.js';
import type { ObservedOnNode } from './types.js';

/** Stop reasons that mean someone stopped the container on purpose, not that it crashed. */
function stoppedOnPurpose(container: ObservedContainer): boolean {
  return (
    container.stopReason !== undefined &&
    container.stopReason !== 'Crashed' &&
    container.stopReason !== 'Failed'
  );
}

export function handleExited(pass: Pass, here: ObservedOnNode): void {
  const { input, draft } = pass;
  const nodeName = here.nodeName;
  const container = here.container;
  const generation = input.codespace.metadata.generation;

  // The node's idle monitor stopped it at (or after) the current spec: record running=false so
  // that nothing restarts it. A later start bumps the generation past the container's.
  if (container.stopReason === 'Idle' && container.generation >= generation) {
    pass.actions.push({ kind: 'setRunningFalse', reason: 'Idle' });
    draft.phase = 'Stopped';
    draft.stopReason = 'Idle';
    draft.volumeNodeName = nodeName;
    delete draft.nodeName;
    delete draft.url;
    delete draft.restartCount;
    removeCondition(draft.conditions, 'Progressing');
    removeCondition(draft.conditions, 'Scheduled');
    setCondition(
      draft.conditions,
      { type: 'Ready', status: 'False', reason: 'Stopped', message: stoppedMessage('Idle', nodeName) },
      pass.nowIso,
    );
    return;
  }

  // The node is going away and stopped its containers: move to another node. (A node that is
  // no longer draining keeps it: it is started again below.)
  if (container.stopReason === 'NodeTerminating' && input.nodes.get(nodeName)?.record?.draining === true) {
    delete draft.nodeName;
    delete draft.url;
    draft.phase = 'Pending';
    draft.stopReason = 'NodeTerminating';
    removeCondition(draft.conditions, 'Progressing');
    const message = `node ${nodeName} is being terminated; moving the codespace to another node`;
    setCondition(
      draft.conditions,
      { type: 'Scheduled', status: 'False', reason: 'NodeTerminating', message },
      pass.nowIso,
    );
    setCondition(
      draft.conditions,
      { type: 'Ready', status: 'False', reason: 'NodeTerminating', message },
      pass.nowIso,
    );
    requeueAfter(pass, 0);
    return;
  }

  const progress = findCondition(draft.conditions, 'Progressing');
  const progressSinceMs = progress === undefined ? Number.NaN : Date.parse(progress.lastTransitionTime);
  if (progress?.reason === 'CrashBackOff') {
    const dueMs = progressSinceMs + restartBackoffMs(draft.restartCount ?? 1, input.config);
    if (input.nowMs < dueMs) {
      requeueAfter(pass, dueMs - input.nowMs);
      return;
    }
    pass.actions.push({ kind: 'ensureRunning', nodeName });
    checkStartingDeadline(
      pass,
      nodeName,
      `restarting the container on node ${nodeName} (crash ${draft.restartCount ?? 1} of ${input.config.restartLimit})`,
    );
    return;
  }

  // Is this exit news? Only if the container should have been up when the report was made:
  // always once Running; while Scheduled or Starting, only for reports newer than our start
  // command (an older report still shows the container before it was started).
  const expectedUpSinceMs =
    draft.phase === 'Running'
      ? Number.NEGATIVE_INFINITY
      : (draft.phase === 'Scheduled' || draft.phase === 'Starting') &&
          (progress?.reason === 'Scheduled' || progress?.reason === 'Starting')
        ? progressSinceMs
        : Number.POSITIVE_INFINITY;
  const crashed = !stoppedOnPurpose(container) && here.observedAtMs > expectedUpSinceMs;
  if (!crashed) {
    pass.actions.push({ kind: 'ensureRunning', nodeName });
    checkStartingDeadline(pass, nodeName, `starting the container on node ${nodeName}`);
    return;
  }

  const crashes = (draft.restartCount ?? 0) + 1;
  draft.restartCount = crashes;
  draft.stopReason = 'Crashed';
  const exit = container.exitCode === undefined ? '' : ` (last exit code ${container.exitCode})`;
  if (crashes >= input.config.restartLimit) {
    fail(
      pass,
      'CrashLoop',
      `crashed ${crashes} times in a row on node ${nodeName}${exit}; check the image and its logs, ` +
        'then retry with start or force stop',
    );
    return;
  }
  const backoffMs = restartBackoffMs(crashes, input.config);
  draft.phase = 'Starting';
  const message =
    `exited${exit} on node ${nodeName}; restarting in ${seconds(backoffMs)} s ` +
    `(crash ${crashes} of at most ${input.config.restartLimit})`;
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'False', reason: 'CrashBackOff', message },
    pass.nowIso,
  );
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'True', reason: 'CrashBackOff', message },
    pass.nowIso,
  );
  requeueAfter(pass, backoffMs);
}
