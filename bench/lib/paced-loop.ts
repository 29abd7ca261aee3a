import { sleep } from './monotonic-clock.js';

/** How often the pacer wakes to issue what has fallen due (Node timers resolve to ~1 ms). */
const pacerTickMs = 1;

export interface PacedLoopOptions {
  ratePerSecond: number;
  count: number;
  /** Never more than this many calls outstanding: a stalled system under test cannot pile up work. */
  inFlightMax: number;
  /** Stop issuing after this long whatever happened (the run is bounded in time too). */
  deadlineMs: number;
  /** Starts operation `sequence` (1-based). A rejection is counted, not thrown. */
  issue: (sequence: number) => Promise<void>;
}

export interface PacedLoopResult {
  issued: number;
  failed: number;
  /** Wall time from the first issue until the last operation settled. */
  elapsedMs: number;
  /** Operations issued later than their slot because `inFlightMax` was reached. */
  throttled: number;
}

/**
 * Open-loop load: operation n is issued at n / rate seconds, whether or not earlier ones have
 * finished (closed-loop load would hide queueing delay), up to `inFlightMax` at once.
 */
export async function runPacedLoop(options: PacedLoopOptions): Promise<PacedLoopResult> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let failed = 0;
  let throttled = 0;
  while (issued < options.count && performance.now() - started < options.deadlineMs) {
    const due = Math.min(
      options.count,
      Math.floor(((performance.now() - started) * options.ratePerSecond) / 1000) + 1,
    );
    while (issued < due) {
      if (inFlight.size >= options.inFlightMax) {
        throttled += 1;
        break;
      }
      issued += 1;
      const operation = options.issue(issued).catch(() => {
        failed += 1;
      });
      inFlight.add(operation);
      void operation.finally(() => inFlight.delete(operation));
    }
    await sleep(pacerTickMs);
  }
  await Promise.all(inFlight);
  return { issued, failed, elapsedMs: performance.now() - started, throttled };
}
