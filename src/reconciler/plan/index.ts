import { isoAt } from '../conditions.js';
import { planDeletion } from './deleting.js';
import { forgetFencedNodes } from './node-lost.js';
import type { Pass } from './pass.js';
import { planRunning } from './running.js';
import { planStopped } from './stopping.js';
import { draftOf, finishDraft } from './status-draft.js';
import type { Action, Plan, PlanInput } from './types.js';

export type { Action, ObservedOnNode, Plan, PlanInput } from './types.js';
export { phaseDeadlineMs } from './deadlines.js';

export function planCodespace(input: PlanInput): Plan {
  const actions: Action[] = [];
  const draft = draftOf(input.codespace.status);
  const pass: Pass = { input, draft, actions, nowIso: isoAt(input.nowMs), requeueAfterMs: undefined };
  const nodeLost = forgetFencedNodes(pass);
  if (input.codespace.metadata.deletionTimestamp !== undefined) planDeletion(pass);
  else if (input.codespace.spec.running) planRunning(pass);
  else planStopped(pass, nodeLost);
  draft.observedGeneration = input.codespace.metadata.generation;
  const requeueAfterMs = pass.requeueAfterMs;
  const status = finishDraft(input.codespace.status, draft);
  return requeueAfterMs === undefined ? { actions, status } : { actions, status, requeueAfterMs };
}
