import { seconds } from '../conditions.js';
import { fail, failedByDeadline, progressing, progressSinceMs } from './deadlines.js';
import { confirmedGoneFrom, healthOf, liveObserved, requeueAfter, sortedNames, type Pass } from './pass.js';

// Deletion: remove the container and volume everywhere they may be, then finalize.

export function planDeletion(pass: Pass): void {
  const { input, draft } = pass;
  const uid = input.codespace.metadata.uid;
  const holders = new Set<string>(liveObserved(pass).map((o) => o.nodeName));
  for (const node of input.nodes.values()) {
    if (node.health !== 'Fenced' && node.record?.volumes.includes(uid) === true) holders.add(node.name);
  }
  // The nodes we placed it on hold it until they say otherwise in a report made after we began.
  const sinceMs = progressSinceMs(pass, 'Deleting');
  for (const nodeName of [draft.nodeName, draft.volumeNodeName]) {
    if (nodeName === undefined || healthOf(pass, nodeName) === 'Fenced') continue;
    if (!confirmedGoneFrom(pass, nodeName, sinceMs, { volumeToo: true })) holders.add(nodeName);
  }
  if (holders.size === 0) {
    pass.actions.push({ kind: 'finalize' });
    return;
  }
  requeueAfter(pass, input.config.reportRecheckMs);
  const unreachable: string[] = [];
  for (const nodeName of sortedNames(holders)) {
    if (healthOf(pass, nodeName) === 'Ready') pass.actions.push({ kind: 'remove', nodeName });
    else unreachable.push(nodeName);
  }
  delete draft.url;
  const where = sortedNames(holders).join(', ');
  const waiting =
    unreachable.length > 0
      ? `node ${unreachable.join(', ')} is not responding; removal goes on once it answers or is fenced`
      : 'removal is being retried';
  if (failedByDeadline(pass)) return;
  if (progressing(pass, 'Deleting', `removing the container and volume from node ${where}`)) {
    fail(
      pass,
      'DeleteTimedOut',
      `could not remove the codespace from node ${where} within ${seconds(input.config.deletingDeadlineMs)} s; ${waiting}`,
    );
  }
}
