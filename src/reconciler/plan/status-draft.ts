import type { Draft } from 'immer';
import type { CodespaceStatus, Condition } from '../../model/codespace.js';

/**
 * The planner's working copy of a status. A plan runs once per key per pass (tens of thousands a
 * second at scale) and most passes change nothing, so instead of an immer draft (a proxy, then a
 * deep freeze of the result) the planner edits a plain copy — the status is flat apart from its
 * short list of flat conditions — and keeps the original object when the copy ends up equal.
 * That identity is what tells the executor there is nothing to write.
 */
export type StatusDraft = Draft<CodespaceStatus>;

export function draftOf(status: CodespaceStatus): StatusDraft {
  return { ...status, conditions: status.conditions.map((c) => ({ ...c })) };
}

/** The planned status: `original` itself when nothing changed, else the draft, frozen (shallowly, and its conditions). */
export function finishDraft(original: CodespaceStatus, draft: StatusDraft): CodespaceStatus {
  if (sameStatus(original, draft)) return original;
  for (const condition of draft.conditions) Object.freeze(condition);
  Object.freeze(draft.conditions);
  return Object.freeze(draft);
}

export function sameStatus(a: CodespaceStatus, b: CodespaceStatus): boolean {
  if (!sameFlatFields(a, b, 'conditions')) return false;
  if (a.conditions.length !== b.conditions.length) return false;
  for (let i = 0; i < a.conditions.length; i += 1) {
    if (!sameFlatFields(a.conditions[i] as Condition, b.conditions[i] as Condition, undefined)) return false;
  }
  return true;
}

/** Equal scalar fields; a field set to undefined counts as absent (as in the stored JSON). */
function sameFlatFields(a: object, b: object, skip: string | undefined): boolean {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let defined = 0;
  for (const key in left) {
    if (key === skip || left[key] === undefined) continue;
    if (left[key] !== right[key]) return false;
    defined += 1;
  }
  for (const key in right) {
    if (key !== skip && right[key] !== undefined) defined -= 1;
  }
  return defined === 0;
}
