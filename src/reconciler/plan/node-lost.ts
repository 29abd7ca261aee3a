import { removeCondition, setCondition } from '../conditions.js';
import { healthOf, lastBeatOf, type Pass } from './pass.js';

/**
 * A fenced node is confirmed gone: whatever it held is gone with it. Returns whether the
 * codespace was assigned there (it then moves, with a status that says why).
 */
export function forgetFencedNodes(pass: Pass): boolean {
  const { draft } = pass;
  if (draft.volumeNodeName !== undefined && healthOf(pass, draft.volumeNodeName) === 'Fenced') {
    delete draft.volumeNodeName;
  }
  const lost = draft.nodeName;
  if (lost === undefined || healthOf(pass, lost) !== 'Fenced') return false;
  delete draft.nodeName;
  delete draft.url;
  delete draft.restartCount;
  draft.stopReason = 'NodeLost';
  if (draft.phase !== 'Failed') draft.phase = 'Pending';
  const message =
    `node ${lost} stopped sending heartbeats (last at ${lastBeatOf(pass, lost)}) and was terminated; ` +
    'the codespace is being moved to another node';
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'False', reason: 'NodeLost', message },
    pass.nowIso,
  );
  setCondition(
    draft.conditions,
    { type: 'Scheduled', status: 'False', reason: 'NodeLost', message },
    pass.nowIso,
  );
  removeCondition(draft.conditions, 'Progressing');
  return true;
}
