import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import { AbortGroups, type Endable } from './abort-group.js';
import { watchBufferLimitDefault } from './store.js';
import { watchHistoryPageSize } from './store-limits.js';
import type { WatchHub } from './watch-hub.js';

/** Where a hub watcher hands its events: the push API's callbacks, or an iterator adapter. */
export interface WatchSink {
  /**
   * Called synchronously with each run of events that is ready: non-empty, in order, at most the
   * watcher's `batchMax`, each event once. May pause, resume or end the watcher.
   */
  onEvents(events: readonly WatchEvent[]): void;
  /**
   * Called once, whatever ended the watcher (but `close()`). `error` only when it never got going (the feed could
   * not start, or history no longer covers the starting version) or when `onEvents` threw;
   * undefined for every other end (cut off, aborted, store closed): resume from the last version
   * seen, and the next watch says why if it cannot.
   */
  onEnd(error: CodeyardError | undefined): void;
}

export interface HubWatcherOptions {
  fromResourceVersion: number;
  /** Live events the watcher may fall behind while paused before it is cut off. */
  bufferLimit: number | undefined;
  /** Ends the watcher (like a cut-off). */
  signal: AbortSignal | undefined;
  /** Events per `onEvents` call, at most. */
  batchMax: number;
  /** A paused watcher is handed nothing until `resume()`; live events wait in the hub's log. */
  paused: boolean;
}

type WatcherState = 'new' | 'catching-up' | 'live' | 'ended';

/** Shared by every hub: ends the watchers of an aborted signal with one listener per signal. */
const abortGroups = new AbortGroups();

/**
 * @internal One consumer of a `WatchHub`: catches up from history, then follows the hub's shared
 * live log with no gap and no duplicate, pushing each ready run of events into its sink
 * synchronously. Pausing is the only back-pressure: a paused watcher keeps its place and the hub
 * holds the events it has not taken, until it falls more than `bufferLimit` behind and is cut off.
 *
 * The push API uses it unpaused (the hub hands every delivery straight to `onEvents`, the very
 * array it received); the async iterators resume it for each `next()` and pause it once a batch
 * is handed over, so both share this one path.
 */
export class HubWatcher implements Endable {
  readonly bufferLimit: number;
  private readonly batchMax: number;
  private readonly signal: AbortSignal | undefined;
  private state: WatcherState = 'new';
  private paused: boolean;
  /** Version of the last event handed to the sink (or the starting version). */
  private lastDelivered: number;
  /** Catch-up is over once history reaches this version: later ones all arrive live. */
  private liveAfter = 0;
  private history: readonly WatchEvent[] = [];
  private historyHead = 0;
  /** Attaching, or a history read is in flight: its completion carries on with the catch-up. */
  private awaitingHistory = false;
  /** Inside `deliverReady`: a nested call (from the sink) leaves the work to the running loop. */
  private delivering = false;
  /** Set by `close()`: the consumer ended it, so its sink hears nothing more. */
  private silenced = false;
  /** The sink's `onEvents`, held here: the hub's hot loop then reads one object per watcher. */
  private readonly onEvents: WatchSink['onEvents'];

  constructor(
    private readonly hub: WatchHub,
    options: HubWatcherOptions,
    private readonly sink: WatchSink,
  ) {
    this.onEvents = sink.onEvents;
    this.lastDelivered = options.fromResourceVersion;
    this.bufferLimit = options.bufferLimit ?? watchBufferLimitDefault;
    this.batchMax = options.batchMax;
    this.paused = options.paused;
    this.signal = options.signal;
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** The version up to which this watcher needs no live event any more. */
  get consumedThrough(): number {
    return Math.max(this.lastDelivered, this.liveAfter);
  }

  /** Attaches to the hub and starts catching up; the sink hears of any failure. Once only. */
  start(): void {
    if (this.state !== 'new') return;
    if (this.signal?.aborted === true) {
      this.end();
      return;
    }
    this.state = 'catching-up';
    this.awaitingHistory = true;
    if (this.signal !== undefined) abortGroups.add(this.signal, this);
    void this.begin();
  }

  pause(): void {
    this.paused = true;
  }

  /** Hands over what is ready at once (synchronously), then keeps pushing live events. */
  resume(): void {
    this.paused = false;
    if (this.state === 'new') {
      this.start();
    } else {
      this.deliverReady();
    }
  }

  /**
   * Called by the hub for every live delivery, after its log holds `events`. A watcher that is
   * live, unpaused and exactly at the delivery's start gets the array itself: no copy, no lookup.
   * True when the watcher needs nothing more of this delivery (it took all of it, or ended).
   */
  offer(events: readonly WatchEvent[]): boolean {
    if (this.state !== 'live' || this.paused || this.delivering) return this.ended;
    if (events[0]!.resourceVersion === this.lastDelivered + 1 && events.length <= this.batchMax) {
      this.lastDelivered = events[events.length - 1]!.resourceVersion;
      this.hand(events);
      return true;
    }
    this.deliverReady();
    return this.ended;
  }

  /** Ends the watcher at its consumer's request: the sink is not told. */
  close(): void {
    this.silenced = true;
    this.end();
  }

  /** Ends the watcher (idempotent) and tells the sink once; `error` when it failed. */
  end(error?: CodeyardError): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.history = [];
    if (this.signal !== undefined) abortGroups.remove(this.signal, this);
    this.hub.detach(this);
    if (this.silenced) return;
    try {
      this.sink.onEnd(error);
    } catch (thrown) {
      // The hub may be fanning out to other watchers right now: one consumer's failure must not
      // stop their delivery. There is nobody left to tell but the process.
      process.emitWarning(`a watch consumer's onEnd threw: ${String(thrown)}`, 'CodeyardWatchWarning');
    }
  }

  private async begin(): Promise<void> {
    try {
      this.liveAfter = await this.hub.attach(this);
      if (this.state === 'ended') return;
      if (this.lastDelivered < this.liveAfter) {
        // The first read throws RESOURCE_VERSION_TOO_OLD when history no longer covers us.
        this.history = await this.hub.readAfter(this.lastDelivered, watchHistoryPageSize);
        this.historyHead = 0;
      }
    } catch (error) {
      this.end(asStoreError(error));
      return;
    }
    this.awaitingHistory = false;
    this.deliverReady();
  }

  /** Pushes every ready run of events while unpaused; fetches the next history page when due. */
  private deliverReady(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (!this.paused) {
        if (this.state === 'catching-up') {
          const batch = this.takeHistory();
          if (batch.length > 0) {
            this.hand(batch);
          } else if (this.awaitingHistory) {
            // Not attached yet (`liveAfter` unknown) or a page is on its way: it resumes us.
            return;
          } else if (this.lastDelivered >= this.liveAfter) {
            this.history = [];
            this.state = 'live';
          } else {
            this.readNextPage();
            return;
          }
        } else if (this.state === 'live') {
          const batch = this.takeLive();
          if (batch.length === 0) return;
          this.hand(batch);
        } else {
          return;
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  private hand(events: readonly WatchEvent[]): void {
    try {
      this.onEvents.call(this.sink, events);
    } catch (error) {
      // Only this consumer is in an unknown state: end it, and let the others carry on.
      this.end(new CodeyardError('INTERNAL', 'a watch consumer failed on its events', { cause: error }));
    }
  }

  private takeHistory(): readonly WatchEvent[] {
    const batch: WatchEvent[] = [];
    while (this.historyHead < this.history.length && batch.length < this.batchMax) {
      const event = this.history[this.historyHead]!;
      this.historyHead += 1;
      // Live events that reached us during catch-up may already be in the page: skip them.
      if (event.resourceVersion > this.lastDelivered) {
        this.lastDelivered = event.resourceVersion;
        batch.push(event);
      }
    }
    // Handed over as the push API promises: frozen, like the hub's shared deliveries.
    return Object.freeze(batch);
  }

  /** Live events that history already delivered are skipped: we read from our own version on. */
  private takeLive(): readonly WatchEvent[] {
    const batch: WatchEvent[] = [];
    while (batch.length < this.batchMax) {
      const event = this.hub.liveEventAfter(this.lastDelivered);
      if (event === undefined) break;
      this.lastDelivered = event.resourceVersion;
      batch.push(event);
    }
    return Object.freeze(batch);
  }

  private readNextPage(): void {
    this.awaitingHistory = true;
    void this.hub.readAfter(this.lastDelivered, watchHistoryPageSize).then(
      (page) => {
        this.awaitingHistory = false;
        if (this.state !== 'catching-up') return;
        if (page.length === 0) {
          // Nothing more is retained below the live position: a gap we cannot fill.
          this.end();
          return;
        }
        this.history = page;
        this.historyHead = 0;
        this.deliverReady();
      },
      () => {
        // History was trimmed under us (or the backend failed) mid catch-up: end; the consumer
        // resumes from its last version and learns why on its next watch.
        this.awaitingHistory = false;
        this.end();
      },
    );
  }
}

function asStoreError(error: unknown): CodeyardError {
  return error instanceof CodeyardError
    ? error
    : new CodeyardError('INTERNAL', 'the watch could not start', { cause: error });
}
