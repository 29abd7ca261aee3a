/**
 * When a person was last active in each codespace, in memory. The request path only writes a
 * number into a Map; a reporter drains it every few seconds (never a write per request or chunk).
 */
export class ActivityTracker {
  private pending = new Map<string, number>();

  touch(codespace: string, nowMs: number): void {
    this.pending.set(codespace, nowMs);
  }

  /** Takes the activity recorded since the last drain. */
  drain(): Map<string, number> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }

  /** Puts back a drained batch that could not be delivered, keeping the newer time per codespace. */
  restore(batch: ReadonlyMap<string, number>): void {
    for (const [codespace, atMs] of batch) {
      const current = this.pending.get(codespace);
      if (current === undefined || current < atMs) this.pending.set(codespace, atMs);
    }
  }
}
