import type { StartedChild } from '../lib/child-process.js';
import { nextMessage, startPinnedTsChild } from '../lib/child-process.js';
import { systemUnderTestCpu } from '../lib/cpu-pinning.js';
import { LatencyHistogram, type HistogramSnapshot } from '../lib/latency-histogram.js';
import type { ChangeWriter } from './change-writers.js';
import { DeliveryLedger, ledgerTotals, type LedgerTotals } from './delivery-ledger.js';
import { openSseWatcher, type SseWatcher } from './sse-watcher.js';
import { isFanoutMessage, type CoordinatorMessage, type FanoutMode } from './protocol.js';

const phaseStartTimeoutMs = 60_000;
const statsTimeoutMs = 60_000;

export interface PhaseOutcome {
  histogram: HistogramSnapshot;
  totals: LedgerTotals;
  resumes: number;
}

/** One side of the comparison: a system under test (a pid to meter), its watchers and its writer. */
export interface Contender {
  readonly label: string;
  readonly pid: number;
  readonly writer: ChangeWriter;
  /** Attaches `watchers` watchers; resolves once they listen. */
  startPhase(watchers: number, events: number): Promise<void>;
  /** Resolves true once every watcher has every change, false after `timeoutMs`. */
  waitComplete(timeoutMs: number): Promise<boolean>;
  stopPhase(): Promise<PhaseOutcome>;
  close(): Promise<void>;
}

/** A store-level fan-out process (`fanout-process.ts`) in one mode, pinned to the SUT core. */
export function fanoutProcessContender(options: {
  label: string;
  mode: FanoutMode;
  redisUrl: string;
  writer: ChangeWriter;
}): Contender {
  const started: StartedChild = startPinnedTsChild({
    entry: 'bench/watch/fanout-process.ts',
    cpu: systemUnderTestCpu,
    env: { BENCH_FANOUT_MODE: options.mode, BENCH_REDIS_URL: options.redisUrl },
  });
  const child = started.child;
  const post = (message: CoordinatorMessage): void => {
    child.send(message);
  };
  let complete: Promise<unknown> | undefined;
  return {
    label: options.label,
    pid: started.pid,
    writer: options.writer,
    async startPhase(watchers, events) {
      const ready = nextMessage(child, isFanoutMessage('ready'), phaseStartTimeoutMs);
      complete = nextMessage(child, isFanoutMessage('complete'), 24 * 3600 * 1000).catch(() => undefined);
      post({ kind: 'start', watchers, events });
      await ready;
    },
    async waitComplete(timeoutMs) {
      return withinTimeout(complete ?? Promise.resolve(), timeoutMs);
    },
    async stopPhase() {
      const stats = nextMessage(child, isFanoutMessage('stats'), statsTimeoutMs);
      post({ kind: 'stop' });
      const { histogram, totals, resumes } = await stats;
      return { histogram, totals, resumes };
    },
    close: () => started.stop(),
  };
}

/** N real HTTP clients in this (load generator) process reading an SSE endpoint of a server process. */
export function sseContender(options: {
  label: string;
  pid: number;
  writer: ChangeWriter;
  /** The stream URL for a phase starting now (ours adds `resourceVersion=` the current version). */
  streamUrl: () => Promise<string>;
  headers?: Readonly<Record<string, string>>;
  close: () => Promise<void>;
}): Contender {
  let histogram = new LatencyHistogram();
  let ledgers: DeliveryLedger[] = [];
  let watchers: SseWatcher[] = [];
  let expected = 0;
  let delivered = 0;
  let onComplete: (() => void) | undefined;
  return {
    label: options.label,
    pid: options.pid,
    writer: options.writer,
    async startPhase(count, phaseEvents) {
      histogram = new LatencyHistogram();
      ledgers = Array.from({ length: count }, () => new DeliveryLedger(histogram, phaseEvents));
      expected = count * phaseEvents;
      delivered = 0;
      const url = await options.streamUrl();
      const onDelivered = (): void => {
        delivered += 1;
        if (delivered >= expected) onComplete?.();
      };
      watchers = await Promise.all(
        ledgers.map((ledger) =>
          openSseWatcher({
            url,
            ...(options.headers ? { headers: options.headers } : {}),
            ledger,
            onDelivered,
          }),
        ),
      );
    },
    waitComplete(timeoutMs) {
      if (delivered >= expected) return Promise.resolve(true);
      return withinTimeout(
        new Promise<void>((resolve) => {
          onComplete = resolve;
        }),
        timeoutMs,
      );
    },
    async stopPhase() {
      onComplete = undefined;
      const resumes = watchers.reduce((sum, watcher) => sum + watcher.resumes, 0);
      watchers.forEach((watcher) => watcher.close());
      watchers = [];
      return { histogram: histogram.snapshot(), totals: ledgerTotals(ledgers), resumes };
    },
    close: options.close,
  };
}

async function withinTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
