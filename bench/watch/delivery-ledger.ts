import type { LatencyHistogram } from '../lib/latency-histogram.js';

/**
 * One watcher's record of what it received: every change must arrive exactly once and in
 * order (`seq` 1, 2, 3, … as written). A `seq` at or below one already seen is a duplicate
 * (or reordering); a jump past the next expected one counts the skipped changes as lost.
 */
export class DeliveryLedger {
  private nextSeq = 1;
  delivered = 0;
  duplicates = 0;
  skipped = 0;

  constructor(private readonly histogram: LatencyHistogram) {}

  record(seq: number, sentMicros: number, receivedMicros: number): void {
    this.delivered += 1;
    if (seq < this.nextSeq) {
      this.duplicates += 1;
      return;
    }
    if (seq > this.nextSeq) this.skipped += seq - this.nextSeq;
    this.nextSeq = seq + 1;
    this.histogram.record(receivedMicros - sentMicros);
  }

  /** Changes this watcher never got, of `written` (skipped ones plus a missing tail). */
  lost(written: number): number {
    return this.skipped + Math.max(0, written - (this.nextSeq - 1));
  }
}

export interface LedgerTotals {
  watchers: number;
  delivered: number;
  duplicates: number;
  lost: number;
}

export function ledgerTotals(ledgers: readonly DeliveryLedger[], written: number): LedgerTotals {
  let delivered = 0;
  let duplicates = 0;
  let lost = 0;
  for (const ledger of ledgers) {
    delivered += ledger.delivered;
    duplicates += ledger.duplicates;
    lost += ledger.lost(written);
  }
  return { watchers: ledgers.length, delivered, duplicates, lost };
}
