import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import { deepFreeze } from './deep-freeze.js';
import { HubWatcher } from './hub-watcher.js';
import { LiveLog } from './live-log.js';
import {
  watchBatchEventsMax,
  type WatchOptions,
  type WatchSubscription,
  type WatchSubscriptionOptions,
} from './store.js';
import { watchBatchIterable, watchEventIterable } from './watch-iterators.js';

/**
 * Where a store's events come from: retained history, and one live feed per store.
 * `MemoryStore` pushes from its writes; `RedisStore` from one pub/sub subscription backed by its stream.
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
 * delivery costs no copy: a watcher that keeps up is handed the delivered array itself,
 * synchronously (`subscribe`, the push API: one function call per watcher per delivery, as a
 * plain event emitter costs). A paused watcher more than `bufferLimit` events behind is cut off,
 * which bounds what the log must keep. Events (and the arrays handed out) are shared and
 * deep-frozen: one parse per event, however many watchers.
 */
export class WatchHub {
  private readonly watchers = new Set<HubWatcher>();
  /** `watchers` as an array, rebuilt after a change: the fan-out loop runs far more often. */
  private fanOutList: HubWatcher[] | undefined;
  private readonly log = new LiveLog();
  private starting: Promise<void> | undefined;
  /** The highest version the live feed has delivered (or started after). */
  private position = 0;
  private closed = false;
  /** Inside `deliver`: a delivery that arrives meanwhile (a consumer wrote) waits its turn here. */
  private delivering = false;
  private readonly queuedDeliveries: (readonly WatchEvent[])[] = [];

  constructor(private readonly source: WatchSource) {}

  watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    return watchEventIterable(this, options);
  }

  /**
   * The same events as `watch`, each ready run of them as one array: one async step per watcher
   * per hub delivery (or history page) instead of one per event.
   */
  watchBatches(options: WatchOptions): AsyncIterable<readonly WatchEvent[]> {
    return watchBatchIterable(this, options);
  }

  /** The push API (see `Store.subscribeCodespaceEvents`). */
  subscribe(options: WatchSubscriptionOptions): WatchSubscription {
    // The options are the sink: `onEvents` is called on them directly, nothing in between.
    const watcher = new HubWatcher(
      this,
      {
        fromResourceVersion: options.fromResourceVersion,
        bufferLimit: options.bufferLimit,
        signal: undefined,
        batchMax: watchBatchEventsMax,
        paused: false,
      },
      options,
    );
    watcher.start();
    return {
      // close() is the consumer's own doing: its onEnd is not called.
      close: () => watcher.close(),
      pause: () => watcher.pause(),
      resume: () => watcher.resume(),
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
      this.fanOutList = undefined;
    }
    return this.position;
  }

  /** @internal */
  detach(watcher: HubWatcher): void {
    if (this.watchers.delete(watcher)) this.fanOutList = undefined;
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
    if (this.delivering) {
      // A consumer's onEvents caused this (an in-process write): finish handing out the current
      // delivery to everyone first, so every watcher still sees versions in order.
      this.queuedDeliveries.push(events);
      return;
    }
    this.delivering = true;
    try {
      this.fanOut(events);
      for (let next = this.queuedDeliveries.shift(); next; next = this.queuedDeliveries.shift()) {
        this.fanOut(next);
      }
    } finally {
      this.delivering = false;
      this.queuedDeliveries.length = 0;
    }
  }

  private fanOut(events: readonly WatchEvent[]): void {
    let contiguous = true;
    let expected = this.position + 1;
    for (const event of events) {
      deepFreeze(event);
      contiguous &&= event.resourceVersion === expected;
      expected = event.resourceVersion + 1;
    }
    // The array itself is handed to every watcher that keeps up: nobody may change it.
    Object.freeze(events);
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
    // A watcher that ends during the loop is still in the list; its offer() says so.
    this.fanOutList ??= [...this.watchers];
    for (const watcher of this.fanOutList) {
      // The common case, a watcher that keeps up, costs this one call.
      if (watcher.offer(events)) continue;
      const consumedThrough = watcher.consumedThrough;
      if (this.position - consumedThrough > watcher.bufferLimit) {
        // Paused and too far behind: cut off (the consumer resumes from the last version it
        // saw), so the log never holds more than the largest bufferLimit.
        watcher.end();
        continue;
      }
      oldestNeeded = Math.min(oldestNeeded, consumedThrough + 1);
    }
    this.log.dropBefore(oldestNeeded);
  }
}
