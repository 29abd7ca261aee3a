import type { CodespaceStatus } from '../../model/codespace.js';
import { removeCondition, seconds, setCondition } from '../conditions.js';
import { fail, failedByDeadline, progressing, progressSinceMs } from './deadlines.js';
import { confirmedGoneFrom, healthOf, liveObserved, requeueAfter, sortedNames, type Pass } from './pass.js';
import type { ObservedOnNode } from './types.js';

// Stopped wanted: stop whatever runs, then record where the volume stays.

export function planStopped(pass: Pass, nodeLost: boolean): void {
  const { input, draft } = pass;
  const live = liveObserved(pass);
  const stopping = new Set(live.filter((o) => o.container.state !== 'exited').map((o) => o.nodeName));
  // The assigned node may be starting it on our earlier command although no report shows it
  // yet: it keeps its slot and is told to stop until a report made after we began says it has.
  const assigned = draft.nodeName;
  if (
    assigned !== undefined &&
    !confirmedGoneFrom(pass, assigned, progressSinceMs(pass, 'Stopping'), { volumeToo: false })
  ) {
    stopping.add(assigned);
  }
  if (stopping.size > 0) {
    const unreachable: string[] = [];
    for (const nodeName of sortedNames(stopping)) {
      if (healthOf(pass, nodeName) === 'Ready') {
        pass.actions.push({ kind: 'stop', nodeName, reason: 'User' });
      } else {
        unreachable.push(nodeName);
      }
    }
    requeueAfter(pass, input.config.reportRecheckMs);
    if (failedByDeadline(pass)) return;
    const where = sortedNames(stopping).join(', ');
    if (progressing(pass, 'Stopping', `stopping the container on node ${where}`)) {
      const why =
        unreachable.length > 0
          ? `node ${unreachable.join(', ')} is not responding`
          : 'the node keeps failing to stop it';
      fail(
        pass,
        'StopTimedOut',
        `did not stop within ${seconds(input.config.stoppingDeadlineMs)} s on node ${where} (${why}); ` +
          'retry stop, or delete the codespace',
      );
    }
    return;
  }

  // Everything is stopped. The volume stays where the container was.
  const onAssigned = live.find((o) => o.nodeName === draft.nodeName);
  const keeper = onAssigned ?? live.find((o) => o.nodeName === draft.volumeNodeName) ?? live[0];
  if (keeper !== undefined) draft.volumeNodeName = keeper.nodeName;
  removeDuplicates(pass, live, draft.volumeNodeName);

  if (draft.phase !== 'Stopped') {
    // An idle stop recorded earlier stays the reason even if a late copy had to be stopped too
    // (a start resent on a lagging report can race the node's idle stop).
    draft.stopReason = nodeLost ? 'NodeLost' : draft.stopReason === 'Idle' ? 'Idle' : 'User';
  }
  draft.phase = 'Stopped';
  delete draft.nodeName;
  delete draft.url;
  delete draft.restartCount;
  removeCondition(draft.conditions, 'Progressing');
  removeCondition(draft.conditions, 'Scheduled');
  const message = stoppedMessage(draft.stopReason, draft.volumeNodeName);
  setCondition(draft.conditions, { type: 'Ready', status: 'False', reason: 'Stopped', message }, pass.nowIso);
}

export function stoppedMessage(
  reason: CodespaceStatus['stopReason'],
  volumeNodeName: string | undefined,
): string {
  const files = volumeNodeName === undefined ? '' : `; its files are kept on node ${volumeNodeName}`;
  switch (reason) {
    case 'Idle':
      return `stopped after its idle timeout${files}; start it to continue`;
    case 'NodeLost':
      return `stopped: its node was lost${files}`;
    default:
      return `stopped${files}`;
  }
}

/**
 * Containers of this codespace on nodes other than the one that should hold it: stop one on the
 * volume's node (its files live there), remove the rest. Only reachable nodes are asked.
 */
function removeDuplicates(
  pass: Pass,
  live: readonly ObservedOnNode[],
  keepNodeName: string | undefined,
): void {
  for (const o of live) {
    if (o.nodeName === keepNodeName || healthOf(pass, o.nodeName) !== 'Ready') continue;
    pass.actions.push({ kind: 'remove', nodeName: o.nodeName });
  }
}
