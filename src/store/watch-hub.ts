import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import { AbortGroups, type Endable } from './abort-group.js';
import { deepFreeze } from './deep-freeze.js';
import { LiveLog } from './live-log.js';
import { watchBatchEventsMax, watchBufferLimitDefault, type WatchOptions } from './store.js';
import { watchHistoryPageSize } from './store-limits.js';

/**
 * Where a store's events come from: retained history, and one live feed per store.
 * `MemoryStore` pushes from its writes; `RedisStore` runs one `XREAD BLOCK` connection.
 */
export interface WatchSource {
  /**
   * Retained events with resourceVersion > `after`, oldest first, at most `limit`. Throws
   * RESOURCE_VERSION_TOO_OLD when changes after `after` exist but are no longer retained.
   */
  readAfter(after: number, limit: number): Promise<readonly WatchEvent[]>;
  /**
   * Starts the live feed. Resolves with the version the feed starts after: every event with a
   * higher resourceVersion will be passed to `deliver`, in order, exactly once.
   */
  start(deliver: (events: readonly WatchEvent[]) => void): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Fans one live feed out to every watcher of a store. Each watcher catches up from history, then
 * follows live events with no gap and no duplicate: it attaches to the live feed *before* reading
 * history (so nothing published meanwhile is missed) and skips live events it already delivered.
 *
 * Live events sit once in a shared `LiveLog`, each watcher reading it at its own version, so a
 * delivery costs no copy. A watcher more than `bufferLimit` events behind is cut off, which bounds
 * what the log must keep. Events are shared, deep-frozen objects: one parse per event, however
 * many watchers.
 */
export class WatchHub {
  private readonly watchers = new Set<HubWatcher>();
  private readonly log = new LiveLog();
  private starting: Promise<void> | undefined;
  /** The highest version the live feed has delivered (or started after). */
  private position = 0;
  private closed = false;

  constructor(private readonly source: WatchSource) {}

  watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    return {
      [Symbol.asyncIterator]: () => new HubWatcher(this, options),
    };
  }

  /**
   * The same events as `watch`, each ready run of them as one array: one async step per watcher
   * per hub delivery (or history page) instead of one per event, which is what a fan-out to
   * thousands of watchers spends its time on.
   */
  watchBatches(options: WatchOptions): AsyncIterable<readonly WatchEvent[]> {
    return {
      [Symbol.asyncIterator]: () => new HubBatchWatcher(new HubWatcher(this, options)),
    };
  }

  /** Number of attached watchers (for tests and metrics). */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Live events held for watchers that have not taken them yet (for tests and metrics). */
  get heldEventCount(): number {
    return this.log.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const watcher of [...this.watchers]) {
      watcher.end();
    }
    this.log.reset(this.position + 1);
    const starting = this.starting;
    if (starting !== undefined) {
      this.starting = undefined;
      // Let a start in flight finish first, so that stop() really stops what it started.
      await starting.catch(() => undefined);
      await this.source.stop();
    }
  }

  /** @internal Attaches a watcher; returns the version after which it will get every live event. */
  async attach(watcher: HubWatcher): Promise<number> {
    if (this.closed) {
      throw new CodeyardError('STORE_UNAVAILABLE', 'the store is closed');
    }
    if (this.starting === undefined) {
      this.starting = this.source
        .start((events) => this.deliver(events))
        .then(
          (startPosition) => {
            this.position = Math.max(this.position, startPosition);
            this.log.reset(this.position + 1);
          },
          (error: unknown) => {
            // Let the next watcher try again (the backend may be back by then).
            this.starting = undefined;
            throw error;
          },
        );
    }
    await this.starting;
    if (!watcher.ended) {
      // (One aborted while the feed was starting must not linger in the set.)
      this.watchers.add(watcher);
    }
    return this.position;
  }

  /** @internal */
  detach(watcher: HubWatcher): void {
    this.watchers.delete(watcher);
  }

  /** @internal */
  readAfter(after: number, limit: number): Promise<readonly WatchEvent[]> {
    return this.source.readAfter(after, limit);
  }

  /** @internal The live event that follows `resourceVersion`, if it has arrived. */
  liveEventAfter(resourceVersion: number): WatchEvent | undefined {
    return this.log.at(resourceVersion + 1);
  }

  private deliver(events: readonly WatchEvent[]): void {
    if (events.length === 0) {
      return;
    }
    let contiguous = true;
    let expected = this.position + 1;
    for (const event of events) {
      deepFreeze(event);
      contiguous &&= event.resourceVersion === expected;
      expected = event.resourceVersion + 1;
    }
    this.position = events[events.length - 1]!.resourceVersion;
    if (!contiguous) {
      // Versions are dense (one event per version): a jump means the feed missed events
      // (history trimmed under it, a corrupt entry, lost data). Nobody may skip them silently:
      // cut every watcher off; each resumes from its last version and learns what it must.
      for (const watcher of [...this.watchers]) {
        watcher.end();
      }
      this.log.reset(this.position + 1);
      return;
    }
    this.log.append(events);
    let oldestNeeded = this.position + 1;
    for (const watcher of this.watchers) {
      const consumedThrough = watcher.consumedThrough;
      if (this.position - consumedThrough > watcher.bufferLimit) {
        // Too far behind: cut off (the consumer resumes from the last version it saw), so the
        // log never holds more than the largest bufferLimit.
        watcher.end();
        continue;
      }
      oldestNeeded = Math.min(oldestNeeded, consumedThrough + 1);
      watcher.notify();
    }
    this.log.dropBefore(oldestNeeded);
  }
}

type WatcherState = 'new' | 'catching-up' | 'live' | 'ended';

/** Shared by every hub: ends the watchers of an aborted signal. */
const abortGroups = new AbortGroups();

/** @internal One consumer: an async iterator over its catch-up history, then the live log. */
export class HubWatcher implements AsyncIterator<WatchEvent>, Endable {
  readonly bufferLimit: number;
  private state: WatcherState = 'new';
  private lastDelivered: number;
  private history: readonly WatchEvent[] = [];
  private historyHead = 0;
  /** Catch-up is over once history reaches this version: later ones all arrive live. */
  private liveAfter = 0;
  private wake: (() => void) | undefined;
  /** A parked `nextBatch()`: the next delivery resolves it with its events. */
  private batchWaiter:
    { resolve: (result: IteratorResult<readonly WatchEvent[]>) => void; max: number } | undefined;
  private readonly signal: AbortSignal;

  constructor(
    private readonly hub: WatchHub,
    options: WatchOptions,
  ) {
    this.lastDelivered = options.fromResourceVersion;
    this.bufferLimit = options.bufferLimit ?? watchBufferLimitDefault;
    this.signal = options.signal;
    if (this.signal.aborted) {
      this.state = 'ended';
    } else {
      abortGroups.add(this.signal, this);
    }
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** The version up to which this watcher needs no live event any more. */
  get consumedThrough(): number {
    return Math.max(this.lastDelivered, this.liveAfter);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    // The hot path (a live watcher with an event waiting) allocates only its result.
    if (this.state === 'live') {
      const event = this.takeLive();
      if (event !== undefined) {
        return Promise.resolve({ done: false, value: event });
      }
    }
    return this.nextSlowly();
  }

  async return(): Promise<IteratorResult<WatchEvent>> {
    this.end();
    return { done: true, value: undefined };
  }

  /**
   * The live fast path of a batch consumer: a batch that is ready, or a parked promise the next
   * delivery resolves. Undefined when the watcher is not live (or a batch is already parked):
   * the caller then goes the general way through `next()`.
   */
  nextBatch(max: number): Promise<IteratorResult<readonly WatchEvent[]>> | undefined {
    if (this.state !== 'live' || this.batchWaiter !== undefined) {
      return undefined;
    }
    const batch: WatchEvent[] = [];
    this.takeReady(batch, max);
    if (batch.length > 0) {
      return Promise.resolve({ done: false, value: batch });
    }
    return new Promise((resolve) => {
      this.batchWaiter = { resolve, max };
    });
  }

  /** Called by the hub when live events arrived. */
  notify(): void {
    const waiter = this.batchWaiter;
    if (waiter !== undefined) {
      const batch: WatchEvent[] = [];
      this.takeReady(batch, waiter.max);
      if (batch.length > 0) {
        this.batchWaiter = undefined;
        waiter.resolve({ done: false, value: batch });
      }
    }
    this.wake?.();
  }

  end(): void {
    if (this.state === 'ended') {
      return;
    }
    this.state = 'ended';
    this.history = [];
    abortGroups.remove(this.signal, this);
    this.hub.detach(this);
    const waiter = this.batchWaiter;
    this.batchWaiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
    this.wake?.();
  }

  /**
   * Appends to `batch` the events that are ready now (no I/O, no wait), at most `max` in all:
   * the rest of the current history page while catching up, else the live log from our version.
   */
  takeReady(batch: WatchEvent[], max: number): void {
    if (this.state === 'catching-up') {
      while (this.historyHead < this.history.length && batch.length < max) {
        const event = this.history[this.historyHead]!;
        this.historyHead += 1;
        if (event.resourceVersion > this.lastDelivered) {
          this.lastDelivered = event.resourceVersion;
          batch.push(event);
        }
      }
      return;
    }
    while (this.state === 'live' && batch.length < max) {
      const event = this.takeLive();
      if (event === undefined) return;
      batch.push(event);
    }
  }

  private async nextSlowly(): Promise<IteratorResult<WatchEvent>> {
    if (this.state === 'new') {
      await this.begin();
    }
    while (this.state === 'catching-up') {
      const event = await this.nextFromHistory();
      if (event !== undefined) {
        return { done: false, value: event };
      }
    }
    while (this.state === 'live') {
      const event = this.takeLive();
      if (event !== undefined) {
        return { done: false, value: event };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return { done: true, value: undefined };
  }

  private async begin(): Promise<void> {
    this.state = 'catching-up';
    try {
      this.liveAfter = await this.hub.attach(this);
      if (this.lastDelivered < this.liveAfter) {
        // The first read throws RESOURCE_VERSION_TOO_OLD when history no longer covers us.
        this.history = await this.hub.readAfter(this.lastDelivered, watchHistoryPageSize);
      }
    } catch (error) {
      this.end();
      throw error;
    }
    if (this.signal.aborted) {
      this.end();
    }
  }

  private async nextFromHistory(): Promise<WatchEvent | undefined> {
    while (this.historyHead < this.history.length) {
      const event = this.history[this.historyHead]!;
      this.historyHead += 1;
      if (event.resourceVersion > this.lastDelivered) {
        this.lastDelivered = event.resourceVersion;
        return event;
      }
    }
    if (this.lastDelivered >= this.liveAfter) {
      this.history = [];
      this.state = 'live';
      return undefined;
    }
    try {
      this.history = await this.hub.readAfter(this.lastDelivered, watchHistoryPageSize);
    } catch {
      // History was trimmed under us (or the backend failed) mid catch-up: end the iteration;
      // the consumer resumes from its last version and learns why on its next watch.
      this.end();
      return undefined;
    }
    this.historyHead = 0;
    if (this.history.length === 0 && this.state === 'catching-up') {
      // Nothing more is retained below the live position: a gap we cannot fill.
      this.end();
    }
    return undefined;
  }

  /** Live events that history already delivered are skipped: we read from our own version on. */
  private takeLive(): WatchEvent | undefined {
    const event = this.hub.liveEventAfter(this.lastDelivered);
    if (event !== undefined) {
      this.lastDelivered = event.resourceVersion;
    }
    return event;
  }
}

/**
 * @internal A `HubWatcher` read a batch at a time. A live watcher with events waiting gets them
 * at once; one that has none parks a single promise that the hub's delivery resolves with the
 * batch directly (one promise, one microtask per watcher per delivery). Catch-up, resume errors,
 * cut-off and abort go through `next()` exactly as for the per-event iterator.
 */
class HubBatchWatcher implements AsyncIterator<readonly WatchEvent[]> {
  constructor(private readonly watcher: HubWatcher) {}

  next(): Promise<IteratorResult<readonly WatchEvent[]>> {
    return this.watcher.nextBatch(watchBatchEventsMax) ?? this.nextSlowly();
  }

  async return(): Promise<IteratorResult<readonly WatchEvent[]>> {
    this.watcher.end();
    return { done: true, value: undefined };
  }

  private async nextSlowly(): Promise<IteratorResult<readonly WatchEvent[]>> {
    const first = await this.watcher.next();
    if (first.done === true) {
      return { done: true, value: undefined };
    }
    const batch = [first.value];
    this.watcher.takeReady(batch, watchBatchEventsMax);
    return { done: false, value: batch };
  }
}
