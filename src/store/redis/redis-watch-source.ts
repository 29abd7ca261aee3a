import type { Redis } from 'ioredis';
import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent } from '../../model/events.js';
import type { WatchSource } from '../watch-hub.js';
import { eventFromStreamEntry, resourceVersionOfStreamId, streamIdAfter } from './codespace-json.js';
import type { StoreKeys } from './keys.js';
import { toStoreError } from './unavailable.js';

type StreamEntry = [string, string[]];

export interface RedisWatchSourceOptions {
  /** The store's command connection: history reads. */
  commands: Redis;
  /** Opens the one dedicated connection that blocks in XREAD. */
  openTail: () => Redis;
  keys: StoreKeys;
  /** How long one XREAD blocks before it is issued again. */
  blockMs: number;
  /** Stream entries taken per XREAD. */
  readCountMax: number;
  /** Pause after a failed XREAD (Redis down) before the next try. */
  retryDelayMs: number;
}

/**
 * The Redis side of the watch hub: history from XRANGE on the event stream, and one live feed
 * per store from a dedicated connection looping on `XREAD BLOCK` from the last version it saw —
 * so after a Redis restart it resumes exactly where it was (with AOF, nothing committed is lost).
 */
export class RedisWatchSource implements WatchSource {
  private tail: Redis | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RedisWatchSourceOptions) {}

  async readAfter(after: number, limit: number): Promise<readonly WatchEvent[]> {
    const { commands, keys } = this.options;
    let reply: [Error | null, unknown][] | null;
    try {
      // One transaction: the counter and the range describe the same moment, so "no entries but
      // the counter moved on" really means the entries were trimmed.
      reply = await commands
        .multi()
        .xrange(keys.events, streamIdAfter(after), '+', 'COUNT', limit)
        .get(keys.resourceVersion)
        .exec();
    } catch (error) {
      throw toStoreError(error);
    }
    if (reply === null || reply[0]![0] !== null || reply[1]![0] !== null) {
      throw toStoreError(reply?.[0]?.[0] ?? reply?.[1]?.[0] ?? new Error('transaction aborted'));
    }
    const entries = reply[0]![1] as StreamEntry[];
    const current = Number((reply[1]![1] as string | null) ?? '0');
    const events = entries.map((entry) => eventFromStreamEntry(entry));
    const first = events[0];
    if (after < current && (first === undefined || first.resourceVersion > after + 1)) {
      throw new CodeyardError(
        'RESOURCE_VERSION_TOO_OLD',
        `resourceVersion ${after} is older than the retained history` +
          (first === undefined ? '' : ` (oldest retained: ${first.resourceVersion})`),
        { field: 'resourceVersion' },
      );
    }
    return events;
  }

  async start(deliver: (events: readonly WatchEvent[]) => void): Promise<number> {
    this.stopped = false;
    let position: number;
    try {
      position = Number((await this.options.commands.get(this.options.keys.resourceVersion)) ?? '0');
    } catch (error) {
      throw toStoreError(error);
    }
    if (this.stopped) {
      throw new CodeyardError('STORE_UNAVAILABLE', 'the store is closed');
    }
    this.tail = this.options.openTail();
    this.loop = this.follow(this.tail, position, deliver);
    return position;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tail?.disconnect();
    await this.loop;
    this.tail = undefined;
    this.loop = undefined;
  }

  private async follow(
    tail: Redis,
    startAfter: number,
    deliver: (events: readonly WatchEvent[]) => void,
  ): Promise<void> {
    const { retryDelayMs } = this.options;
    let last = startAfter;
    let reading = this.blockingRead(tail, last);
    while (!this.stopped) {
      let reply: [string, StreamEntry[]][] | null;
      try {
        reply = await reading;
      } catch {
        // Redis is down or restarting: try again from the same version; watchers just wait.
        if (!this.stopped) {
          await untilReadyOrDelay(tail, retryDelayMs);
        }
        if (!this.stopped) reading = this.blockingRead(tail, last);
        continue;
      }
      const entries = reply?.[0]?.[1];
      if (entries === undefined || entries.length === 0) {
        reading = this.blockingRead(tail, last);
        continue;
      }
      last = resourceVersionOfStreamId(entries[entries.length - 1]![0]);
      // The next read goes out before the fan-out runs: an event written while watchers are
      // being served is already on its way back when they are done, instead of waiting for a
      // fresh round trip (what a pub/sub subscriber never waits for).
      reading = this.blockingRead(tail, last);
      const events: WatchEvent[] = [];
      for (const entry of entries) {
        try {
          events.push(eventFromStreamEntry(entry));
        } catch {
          // A corrupt entry is a missing event: skipping it leaves a gap, and the hub cuts every
          // watcher off rather than let one skip it silently. The loop itself must never die.
        }
      }
      deliver(events);
    }
  }

  /** One blocking read of the entries after `last`; a rejection is handled where it is awaited. */
  private blockingRead(tail: Redis, last: number): Promise<[string, StreamEntry[]][] | null> {
    const { keys, blockMs, readCountMax } = this.options;
    const reading = tail.xread(
      'COUNT',
      readCountMax,
      'BLOCK',
      blockMs,
      'STREAMS',
      keys.events,
      `${last}-0`,
    ) as Promise<[string, StreamEntry[]][] | null>;
    // Awaited on the next turn of the loop, if there is one: a read still in flight when the
    // source stops is rejected by the disconnect, and nobody is left to care.
    reading.catch(() => undefined);
    return reading;
  }
}

/** Resumes as soon as the connection is (back) up, or after `delayMs` whatever happens. */
function untilReadyOrDelay(connection: Redis, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      connection.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, delayMs);
    if (connection.status !== 'ready') {
      connection.once('ready', done);
    }
  });
}
