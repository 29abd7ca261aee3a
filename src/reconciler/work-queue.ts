import type { Clock } from './clock.js';

/**
 * A work queue of keys in the manner of client-go's `workqueue`: a `dirty` set (wanted) and a
 * `processing` set (being worked on). A key is held once however often it is added; a key added
 * while it is processed is queued again when that pass ends, so no change is lost and no key
 * ever runs on two workers at once. Retries back off per key (exponential, capped) and, beside
 * that, an overall token bucket bounds the retry rate. The number of waiting keys is bounded;
 * a key refused for lack of room is picked up by the next periodic resync.
 */
export interface WorkQueueOptions {
  readonly clock: Clock;
  /** At most this many distinct keys wait at once. */
  readonly maxLength: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Overall retry rate (token bucket) and its burst. */
  readonly retriesPerSecond: number;
  readonly retryBurst: number;
}

export const workQueueDefaults: Omit<WorkQueueOptions, 'clock'> = {
  maxLength: 100_000,
  backoffBaseMs: 100,
  backoffMaxMs: 60_000,
  retriesPerSecond: 50,
  retryBurst: 200,
};

/** Consumed keys kept at the front of the waiting list before it is compacted. */
const orderCompactAfterKeys = 1_024;

export class WorkQueue {
  private readonly options: WorkQueueOptions;
  /** Waiting keys are `order[orderHead..]`: `shift()` on a large array moves every element, making a full pass quadratic. */
  private order: string[] = [];
  private orderHead = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { atMs: number; cancel: () => void }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private tokens: number;
  private tokensAtMs: number;
  private shuttingDown = false;
  /** Keys refused because the queue was full. */
  dropped = 0;

  constructor(options: Partial<WorkQueueOptions> & { clock: Clock }) {
    this.options = { ...workQueueDefaults, ...options };
    this.tokens = this.options.retryBurst;
    this.tokensAtMs = this.options.clock.monotonicMs();
  }

  /** Keys waiting to be handed out (not those being processed or delayed). */
  get length(): number {
    return this.order.length - this.orderHead;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Wants `key` processed. False when the queue is full (the key is dropped) or shut down. */
  add(key: string): boolean {
    if (this.shuttingDown) return false;
    if (this.dirty.has(key)) return true;
    if (this.dirty.size >= this.options.maxLength) {
      this.dropped += 1;
      return false;
    }
    this.dirty.add(key);
    if (this.processing.has(key)) return true; // re-queued by done()
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.order.push(key);
    }
    return true;
  }

  /** Adds `key` after `delayMs`; of several delays for one key the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const atMs = this.options.clock.monotonicMs() + delayMs;
    const existing = this.delayed.get(key);
    if (existing !== undefined) {
      if (existing.atMs <= atMs) return;
      existing.cancel();
    }
    const cancel = this.options.clock.setTimer(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { atMs, cancel });
  }

  /** Retry after a failure: the later of the key's own backoff and the overall rate limit. */
  addRateLimited(key: string): void {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const backoffMs = Math.min(
      this.options.backoffBaseMs * 2 ** Math.min(failures, 40),
      this.options.backoffMaxMs,
    );
    this.addAfter(key, Math.max(backoffMs, this.reserveRetryToken()));
  }

  /** Failures in a row for `key` since it last succeeded. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The key succeeded (or gave up): its backoff starts afresh. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, marked as being processed, or undefined when none waits. Call `done` after. */
  tryGet(): string | undefined {
    if (this.orderHead >= this.order.length) return undefined;
    const key = this.order[this.orderHead]!;
    this.orderHead += 1;
    // Drop the consumed prefix once it is at least half the array: amortised O(1) per key.
    if (this.orderHead >= orderCompactAfterKeys && this.orderHead * 2 >= this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  /** Waits for the next key; undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.tryGet();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends a pass over `key`; if it was added meanwhile it is queued again now. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      const waiter = this.waiters.shift();
      if (waiter !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        waiter(key);
      } else {
        this.order.push(key);
      }
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Token bucket: 0 while tokens remain, else how long until the reserved token exists. */
  private reserveRetryToken(): number {
    const nowMs = this.options.clock.monotonicMs();
    const rate = this.options.retriesPerSecond / 1000;
    this.tokens = Math.min(this.options.retryBurst, this.tokens + (nowMs - this.tokensAtMs) * rate);
    this.tokensAtMs = nowMs;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / rate);
  }
}
