import type { Redis } from 'ioredis';
import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent } from '../../model/events.js';
import type { WatchSource } from '../watch-hub.js';
import { eventFromStreamEntry, streamIdAfter } from './codespace-json.js';
import type { StoreKeys } from './keys.js';
import { PushedEventFeed } from './pushed-event-feed.js';
import { toStoreError } from './unavailable.js';

type StreamEntry = [string, string[]];

export interface RedisWatchSourceOptions {
  /** The store's command connection: history reads. */
  commands: Redis;
  /** Opens the one dedicated subscriber connection. */
  openTail: () => Redis;
  keys: StoreKeys;
  /** A channel quiet this long makes the feed check the counter (a change nobody published). */
  blockMs: number;
  /** Stream entries taken per history read (XRANGE) while filling a gap. */
  readCountMax: number;
  /** Pause after a failed history read (Redis down) before the next try. */
  retryDelayMs: number;
}

/**
 * The Redis side of the watch hub: history from XRANGE on the event stream, and one live feed
 * per store from a dedicated subscriber connection. Every write script publishes its change on
 * the store's channel once it is stored, so changes are pushed to the orchestrator as they happen
 * (no command per change, as `XREAD` in a loop costs); the stream remains the record that
 * `PushedEventFeed` fills any gap from — after a reconnect (with AOF nothing committed is lost), a
 * message that never came, or a writer that does not publish (noticed when the channel has been
 * quiet for `blockMs` and the counter moved).
 */
export class RedisWatchSource implements WatchSource {
  private tail: Redis | undefined;
  private feed: PushedEventFeed | undefined;
  private quietCheck: NodeJS.Timeout | undefined;
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
    const { keys, readCountMax, retryDelayMs, blockMs } = this.options;
    const feed = new PushedEventFeed({
      readAfter: (after, limit) => this.readAfter(after, limit),
      readPosition: () => this.readPosition(),
      deliver,
      readCountMax,
      retryDelayMs,
    });
    const tail = this.options.openTail();
    let subscribed = false;
    tail.on('message', (_channel: string, message: string) => feed.push(message));
    // After a reconnect (ioredis subscribes again by itself): subscribe once more to know when it
    // holds, then read what was published while we were away.
    tail.on('ready', () => {
      if (!subscribed || this.stopped) return;
      tail.subscribe(keys.eventsChannel).then(
        () => feed.catchUp(),
        () => undefined, // down again: the next 'ready' tries again
      );
    });
    let position: number;
    try {
      // Subscribed before the position is read: nothing published after it can be missed.
      await whenReady(tail, blockMs);
      await tail.subscribe(keys.eventsChannel);
      subscribed = true;
      position = await this.readPosition();
    } catch (error) {
      tail.disconnect();
      throw toStoreError(error);
    }
    if (this.stopped) {
      tail.disconnect();
      throw new CodeyardError('STORE_UNAVAILABLE', 'the store is closed');
    }
    this.tail = tail;
    this.feed = feed;
    feed.begin(position);
    let lastActivity = 0;
    this.quietCheck = setInterval(() => {
      // Cheap insurance against a change that was never published: one GET per quiet interval.
      const activity = feed.deliveredCount;
      if (activity !== lastActivity) {
        lastActivity = activity;
        return;
      }
      feed.behind().then(
        (behind) => behind && feed.catchUp(),
        () => undefined,
      );
    }, blockMs);
    this.quietCheck.unref();
    return position;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.quietCheck !== undefined) clearInterval(this.quietCheck);
    this.quietCheck = undefined;
    this.feed?.stop();
    this.tail?.disconnect();
    this.tail = undefined;
    this.feed = undefined;
  }

  private async readPosition(): Promise<number> {
    try {
      return Number((await this.options.commands.get(this.options.keys.resourceVersion)) ?? '0');
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

/** Resolves once the connection is up (the store's connections queue nothing while they are not). */
function whenReady(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      reject(new CodeyardError('STORE_UNAVAILABLE', `no connection to Redis within ${timeoutMs} ms`));
    }, timeoutMs);
    connection.once('ready', onReady);
  });
}
