import type { Plan } from './plan.js';

/** At most this many keys are remembered (one per codespace; the work queue's own bound). */
export const planMemoMaxKeys = 100_000;

interface Remembered {
  readonly fingerprint: string;
  /** The clock reading from which the plan may differ (its requeue instant), or +∞. */
  readonly untilMs: number;
}

/**
 * Which keys' last plan was empty (nothing to write, nothing to send), and under which inputs
 * (`planFingerprint`): such a key, seen again with the same fingerprint before its requeue
 * instant, would be planned to the same empty plan, so the pass is skipped. Level-triggered
 * resync stays exact: any input the plan reads changes the fingerprint, and the clock is bounded
 * by the requeue instant.
 */
export class PlanMemo {
  private readonly entries = new Map<string, Remembered>();

  /** When the key may be skipped: the delay until its requeue instant (undefined: none due). */
  skip(key: string, fingerprint: string, nowMs: number): { requeueAfterMs: number | undefined } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.fingerprint !== fingerprint || nowMs >= entry.untilMs) return undefined;
    return { requeueAfterMs: entry.untilMs === Number.POSITIVE_INFINITY ? undefined : entry.untilMs - nowMs };
  }

  /** After a successful pass: remembers an empty plan, forgets anything else. */
  record(
    key: string,
    fingerprint: string | undefined,
    plan: Plan,
    wroteNothing: boolean,
    nowMs: number,
  ): void {
    if (fingerprint === undefined || !wroteNothing || plan.actions.length > 0) {
      this.entries.delete(key);
      return;
    }
    if (!this.entries.has(key) && this.entries.size >= planMemoMaxKeys) return;
    const untilMs =
      plan.requeueAfterMs === undefined ? Number.POSITIVE_INFINITY : nowMs + plan.requeueAfterMs;
    this.entries.set(key, { fingerprint, untilMs });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
