import type { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import { HubWatcher, type WatchSink } from './hub-watcher.js';
import { watchBatchEventsMax, type WatchOptions } from './store.js';
import type { WatchHub } from './watch-hub.js';

interface Waiter<T> {
  resolve: (result: IteratorResult<T>) => void;
  reject: (error: unknown) => void;
}

const done: IteratorResult<never> = Object.freeze({ done: true, value: undefined });

/**
 * @internal The async-iterator face of a `HubWatcher`, which stays paused while nobody waits:
 * each `next()` resumes it, and the first run of events it pushes settles that `next()` and
 * pauses it again. So a consumer that stops reading holds its place in the hub's log (and is cut
 * off past its `bufferLimit`), exactly as the push API's paused subscriptions are.
 *
 * `batchMax` 1 with `unwrap` is the per-event iterator; `watchBatchEventsMax` without it hands
 * over each ready run as one array (the very array of the hub's delivery when it can).
 */
class HubIterator<T> implements AsyncIterator<T>, WatchSink {
  private readonly watcher: HubWatcher;
  private readonly waiters: Waiter<T>[] = [];
  /** Set once the watcher ended; an error is thrown by the next `next()` only. */
  private ending: { error: CodeyardError | undefined } | undefined;

  constructor(
    hub: WatchHub,
    options: WatchOptions,
    batchMax: number,
    private readonly unwrap: (events: readonly WatchEvent[]) => T,
  ) {
    this.watcher = new HubWatcher(
      hub,
      {
        fromResourceVersion: options.fromResourceVersion,
        bufferLimit: options.bufferLimit,
        signal: options.signal,
        batchMax,
        paused: true,
      },
      this,
    );
  }

  next(): Promise<IteratorResult<T>> {
    if (this.ending !== undefined) return this.settled();
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      // Hands over at once (synchronously, inside this call) whatever is ready.
      if (this.waiters.length === 1) this.watcher.resume();
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.watcher.end();
    return done;
  }

  /** @internal */
  onEvents(events: readonly WatchEvent[]): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      // Unreachable while the watcher is paused with nobody waiting; never drop events silently.
      throw new Error('watch iterator handed events nobody asked for');
    }
    if (this.waiters.length === 0) this.watcher.pause();
    waiter.resolve({ done: false, value: this.unwrap(events) });
  }

  /** @internal */
  onEnd(error: CodeyardError | undefined): void {
    const waiters = this.waiters.splice(0);
    const first = waiters.shift();
    // The error goes to one `next()` only (the waiting one, else the next call); then done.
    this.ending = { error: first === undefined ? error : undefined };
    if (first !== undefined) {
      if (error === undefined) first.resolve(done);
      else first.reject(error);
    }
    for (const waiter of waiters) waiter.resolve(done);
  }

  private settled(): Promise<IteratorResult<T>> {
    const { error } = this.ending!;
    this.ending!.error = undefined;
    return error === undefined ? Promise.resolve(done) : Promise.reject(error);
  }
}

/** Every event of the watch, one at a time (see `Store.watchCodespaces`). */
export function watchEventIterable(hub: WatchHub, options: WatchOptions): AsyncIterable<WatchEvent> {
  return {
    [Symbol.asyncIterator]: () => new HubIterator(hub, options, 1, (events) => events[0]!),
  };
}

/** Every ready run of events as one array (see `Store.watchCodespaceBatches`). */
export function watchBatchIterable(
  hub: WatchHub,
  options: WatchOptions,
): AsyncIterable<readonly WatchEvent[]> {
  return {
    [Symbol.asyncIterator]: () => new HubIterator(hub, options, watchBatchEventsMax, (events) => events),
  };
}
