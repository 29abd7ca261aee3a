import type { Condition } from '../model/codespace.js';

export type ConditionType = 'Scheduled' | 'Ready' | 'Progressing';

/** What a caller says about a condition; `lastTransitionTime` is the helper's business. */
export interface ConditionUpdate {
  readonly type: ConditionType;
  readonly status: Condition['status'];
  readonly reason: string;
  readonly message: string;
}

export function findCondition(conditions: readonly Condition[], type: ConditionType): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

/**
 * Sets a condition in place (call it on an immer draft). `lastTransitionTime` moves only when
 * the status or the reason changes, so it says how long the codespace has been in its current
 * situation — the phase deadlines are measured from it. A new message alone keeps the time.
 */
export function setCondition(conditions: Condition[], update: ConditionUpdate, nowIso: string): void {
  const index = conditions.findIndex((c) => c.type === update.type);
  const existing = index >= 0 ? conditions[index] : undefined;
  if (existing === undefined) {
    conditions.push({ ...update, lastTransitionTime: nowIso });
    return;
  }
  if (existing.status !== update.status || existing.reason !== update.reason) {
    conditions[index] = { ...update, lastTransitionTime: nowIso };
    return;
  }
  if (existing.message !== update.message) existing.message = update.message;
}

export function removeCondition(conditions: Condition[], type: ConditionType): void {
  const index = conditions.findIndex((c) => c.type === type);
  if (index >= 0) conditions.splice(index, 1);
}

/** The last conversion: a busy controller plans many keys within one millisecond. */
let lastIso = { ms: Number.NaN, iso: '' };

export function isoAt(ms: number): string {
  if (ms !== lastIso.ms) lastIso = { ms, iso: new Date(ms).toISOString() };
  return lastIso.iso;
}

/** Whole seconds for messages people read ("within 120 s"). */
export function seconds(ms: number): number {
  return Math.round(ms / 1000);
}
