import type { LatencyHistogram } from '../lib/latency-histogram.js';

/**
 * One watcher's record of what it received. Every change written (`seq` 1…`written`) must arrive
 * exactly once, and in the order the store applied them: `order` (the resourceVersion, or the
 * publish order for pub/sub) must rise strictly. `seq` alone cannot show order: the writer makes
 * changes to many codespaces at once, and the store may apply two of them in either order.
 */
export class DeliveryLedger {
  private readonly seen: Uint8Array;
  private lastOrder = Number.NEGATIVE_INFINITY;
  delivered = 0;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;
  /** A `seq` outside 1…written: not one of this phase's changes at all. */
  foreign = 0;

  constructor(
    private readonly histogram: LatencyHistogram,
    private readonly written: number,
  ) {
    this.seen = new Uint8Array(written + 1);
  }

  record(seq: number, order: number, sentMicros: number, receivedMicros: number): void {
    this.delivered += 1;
    if (order <= this.lastOrder) this.outOfOrder += 1;
    this.lastOrder = order;
    if (!(seq >= 1 && seq <= this.written)) {
      this.foreign += 1;
      return;
    }
    if (this.seen[seq] === 1) {
      this.duplicates += 1;
      return;
    }
    this.seen[seq] = 1;
    this.unique += 1;
    this.histogram.record(receivedMicros - sentMicros);
  }

  /** Changes written that this watcher never got. */
  get lost(): number {
    return this.written - this.unique;
  }
}

export interface LedgerTotals {
  watchers: number;
  delivered: number;
  duplicates: number;
  lost: number;
  outOfOrder: number;
  foreign: number;
}

export function ledgerTotals(ledgers: readonly DeliveryLedger[]): LedgerTotals {
  const totals: LedgerTotals = {
    watchers: ledgers.length,
    delivered: 0,
    duplicates: 0,
    lost: 0,
    outOfOrder: 0,
    foreign: 0,
  };
  for (const ledger of ledgers) {
    totals.delivered += ledger.delivered;
    totals.duplicates += ledger.duplicates;
    totals.lost += ledger.lost;
    totals.outOfOrder += ledger.outOfOrder;
    totals.foreign += ledger.foreign;
  }
  return totals;
}
