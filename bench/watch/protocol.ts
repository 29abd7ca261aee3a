import type { HistogramSnapshot } from '../lib/latency-histogram.js';
import type { LedgerTotals } from './delivery-ledger.js';

/**
 * Messages between the benchmark's coordinator (load generator) and a fan-out process (system
 * under test), over the child's IPC channel.
 *
 * Modes of the store-level fan-out process:
 * - `store`: `RedisStore.subscribeCodespaceEvents`, N push subscribers (ours: one XREAD connection,
 *   in-process hub, each ready run of events handed to a synchronous callback);
 * - `pubsub`: one raw Redis SUBSCRIBE connection, each message parsed once and handed to N
 *   in-process listeners (the baseline: the same shape as our design, without the store);
 * - `naive-pubsub`: N SUBSCRIBE connections, each parsing for itself.
 */
export type FanoutMode = 'store' | 'pubsub' | 'naive-pubsub';

export interface StartPhase {
  kind: 'start';
  watchers: number;
  /** Changes the writer will make; `complete` is reported once every watcher has them all. */
  events: number;
}
export interface StopPhase {
  kind: 'stop';
}
export type CoordinatorMessage = StartPhase | StopPhase;

export interface Ready {
  kind: 'ready';
}
export interface Complete {
  kind: 'complete';
}
export interface PhaseStats {
  kind: 'stats';
  histogram: HistogramSnapshot;
  totals: LedgerTotals;
  /** Store mode: times a watcher was cut off (fell behind its buffer) and resumed. */
  resumes: number;
}
export type FanoutMessage = Ready | Complete | PhaseStats;

export function isFanoutMessage<K extends FanoutMessage['kind']>(
  kind: K,
): (message: unknown) => message is Extract<FanoutMessage, { kind: K }> {
  return (message: unknown): message is Extract<FanoutMessage, { kind: K }> =>
    typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === kind;
}

/** The channel the baseline writer PUBLISHes the same payloads on. */
export const baselineChannel = 'bench:codespaces';
