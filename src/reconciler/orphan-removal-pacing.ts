/**
 * When each orphan removal was last sent, per node, so that one is not sent again before
 * `retryMs`. A node keeps reporting an orphan until its agent has removed it (seconds: container
 * and volume), and its record changes with every beat, which queues the node's key on every node
 * poll: without pacing, every poll re-sent the removal (and, to an agent that does not answer,
 * failed and logged it again) — a fifth of the orchestrator's CPU per heartbeat in the scale
 * benchmark. Removal is idempotent, so a resend after `retryMs` is all a lost command needs.
 *
 * Bounded: a node's entries are only those it still reports as orphans (`keepOnly`).
 */
export class OrphanRemovalPacing {
  /** nodeName → uid → when the removal was last sent (ms). */
  private readonly sentAtMs = new Map<string, Map<string, number>>();

  constructor(private readonly retryMs: number) {}

  /** How long until a removal of `uid` on the node may be sent again (0: now). */
  waitMs(nodeName: string, uid: string, nowMs: number): number {
    const sentAtMs = this.sentAtMs.get(nodeName)?.get(uid);
    return sentAtMs === undefined ? 0 : Math.max(0, sentAtMs + this.retryMs - nowMs);
  }

  sent(nodeName: string, uid: string, nowMs: number): void {
    let sent = this.sentAtMs.get(nodeName);
    if (sent === undefined) {
      sent = new Map();
      this.sentAtMs.set(nodeName, sent);
    }
    sent.set(uid, nowMs);
  }

  /** Forgets the node's removals of uids it no longer reports as orphans (removed, or adopted). */
  keepOnly(nodeName: string, orphanUids: ReadonlySet<string>): void {
    const sent = this.sentAtMs.get(nodeName);
    if (sent === undefined) return;
    for (const uid of sent.keys()) if (!orphanUids.has(uid)) sent.delete(uid);
    if (sent.size === 0) this.sentAtMs.delete(nodeName);
  }

  forgetNode(nodeName: string): void {
    this.sentAtMs.delete(nodeName);
  }

  clear(): void {
    this.sentAtMs.clear();
  }
}
