/**
 * Time for the reconciler's shell. Structurally a superset of the orchestrator's `Clock`
 * (`nowMs`), plus a monotonic reading for the leader's own deadline and cancellable timers, so
 * that a simulated clock can drive everything deterministically (coder's quartz.Clock idea).
 */
export interface Clock {
  /** Wall-clock ms since the Unix epoch: timestamps in status, beat ages. */
  nowMs(): number;
  /** Never goes backwards: the leader's renew deadline is judged on it. */
  monotonicMs(): number;
  /** Runs `callback` after `delayMs`; the returned function cancels it. */
  setTimer(delayMs: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer: (delayMs, callback) => {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
};

/**
 * `base` with its wall clock shifted by `offsetMs` (test-only skew between processes); the
 * monotonic reading and timers are untouched, so leases and intervals keep their lengths.
 */
export function offsetClock(base: Clock, offsetMs: number): Clock {
  if (offsetMs === 0) return base;
  return {
    nowMs: () => base.nowMs() + offsetMs,
    monotonicMs: () => base.monotonicMs(),
    setTimer: (delayMs, callback) => base.setTimer(delayMs, callback),
  };
}

/** Waits `delayMs` on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(delayMs, resolve);
  });
}

interface Timer {
  readonly atMs: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in time order (ties in creation order). */
export class SimulatedClock implements Clock {
  private currentMs: number;
  private timers: Timer[] = [];
  private created = 0;

  constructor(startMs: number) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  monotonicMs(): number {
    return this.currentMs;
  }

  setTimer(delayMs: number, callback: () => void): () => void {
    const timer: Timer = {
      atMs: this.currentMs + Math.max(0, delayMs),
      order: this.created++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** The time of the earliest pending timer, if any. */
  nextTimerAtMs(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers) {
      if (!timer.cancelled && (next === undefined || timer.atMs < next)) next = timer.atMs;
    }
    return next;
  }

  /** Moves time forward by `deltaMs`, firing every timer that falls due on the way, in order. */
  advance(deltaMs: number): void {
    const targetMs = this.currentMs + Math.max(0, deltaMs);
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.atMs <= targetMs)
        .sort((a, b) => a.atMs - b.atMs || a.order - b.order)[0];
      if (due === undefined) break;
      this.currentMs = Math.max(this.currentMs, due.atMs);
      due.cancelled = true;
      due.callback();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.currentMs = targetMs;
  }
}
