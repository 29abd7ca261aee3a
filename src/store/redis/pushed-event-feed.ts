import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent, WatchEventType } from '../../model/events.js';
import { parseCodespace } from './codespace-json.js';

export interface PushedEventFeedOptions {
  /** Retained events after a version, oldest first (the stream); throws RESOURCE_VERSION_TOO_OLD. */
  readAfter(after: number, limit: number): Promise<readonly WatchEvent[]>;
  /** The store-wide version of the latest change (the counter). */
  readPosition(): Promise<number>;
  deliver(events: readonly WatchEvent[]): void;
  /** Events read per history call. */
  readCountMax: number;
  /** Pause after a failed history read (Redis down) before the next try. */
  retryDelayMs: number;
}

/**
 * Turns published changes (`<resourceVersion> <type> <json>`, pushed by Redis pub/sub) into the
 * dense, ordered, exactly-once sequence the watch hub needs, with the event stream as the record
 * to fall back on. Versions are dense (one change per version), so a message that is not the
 * next version means messages were missed — the subscriber was reconnecting, or a writer did not
 * publish — and the missing ones are read from the stream before going on. Messages already
 * delivered (a catch-up read overlapping what was pushed) are dropped.
 *
 * Messages pushed in one tick are delivered together, after it: one fan-out per socket read.
 */
export class PushedEventFeed {
  private last: number | undefined;
  private readonly pending: string[] = [];
  private drainScheduled = false;
  /** A history read is in flight: pushed messages wait behind it. */
  private filling = false;
  private stopped = false;
  private delivered = 0;

  constructor(private readonly options: PushedEventFeedOptions) {}

  /** Events delivered so far (how the source tells a quiet channel). */
  get deliveredCount(): number {
    return this.delivered;
  }

  /** Starts delivering after `position`; messages pushed before this call wait until now. */
  begin(position: number): void {
    this.last = position;
    // After the caller has taken `position` in (it may await the promise that returns it):
    // nothing is delivered before whoever receives it knows where it starts.
    setImmediate(() => this.scheduleDrain());
  }

  private hand(events: readonly WatchEvent[]): void {
    this.delivered += events.length;
    this.options.deliver(events);
  }

  /** A message from the channel. */
  push(message: string): void {
    if (this.stopped) return;
    this.pending.push(message);
    this.scheduleDrain();
  }

  /**
   * Reads whatever the stream holds beyond the last delivered version: after (re)subscribing,
   * and when the channel has been quiet for a while (a writer that does not publish).
   */
  catchUp(): void {
    if (this.last === undefined || this.filling || this.stopped) return;
    void this.fill(Number.POSITIVE_INFINITY);
  }

  /** Whether the counter has moved past what was delivered (cheap check for a quiet channel). */
  async behind(): Promise<boolean> {
    if (this.last === undefined || this.filling) return false;
    return (await this.options.readPosition()) > this.last;
  }

  stop(): void {
    this.stopped = true;
    this.pending.length = 0;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.last === undefined || this.filling || this.stopped) return;
    const events: WatchEvent[] = [];
    let index = 0;
    for (; index < this.pending.length; index += 1) {
      const message = this.pending[index]!;
      const version = versionOf(message);
      if (version === undefined || version <= this.last) continue;
      if (version !== this.last + 1) break;
      const event = eventOf(message, version);
      // A message that does not parse is a missing event: read it from the stream instead.
      if (event === undefined) break;
      events.push(event);
      this.last = version;
    }
    const gapAt = index < this.pending.length ? versionOf(this.pending[index]!) : undefined;
    this.pending.splice(0, index);
    if (events.length > 0) this.hand(events);
    if (gapAt !== undefined) void this.fill(gapAt);
  }

  /**
   * Reads the stream after the last delivered version, up to `through` (or to its end). Never
   * throws: while Redis is away it retries, as the watchers just wait.
   */
  private async fill(through: number): Promise<void> {
    this.filling = true;
    try {
      while (!this.stopped && this.last! < through) {
        let events: readonly WatchEvent[];
        try {
          events = await this.options.readAfter(this.last!, this.options.readCountMax);
        } catch (error) {
          if (!(error instanceof CodeyardError && error.code === 'RESOURCE_VERSION_TOO_OLD')) {
            await delay(this.options.retryDelayMs);
            continue;
          }
          // Trimmed under us (or a version the stream never got): skip to the present. The hub
          // sees the jump in versions at the next event and cuts its watchers off; each then
          // learns from its own resume that it must relist.
          try {
            this.last = Number.isFinite(through) ? through - 1 : await this.options.readPosition();
          } catch {
            await delay(this.options.retryDelayMs);
            continue;
          }
          break;
        }
        const wanted = events.filter((event) => event.resourceVersion <= through);
        if (wanted.length > 0) {
          this.last = wanted[wanted.length - 1]!.resourceVersion;
          this.hand(wanted);
        }
        if (events.length < this.options.readCountMax || wanted.length < events.length) break;
      }
      // Whatever the stream could not give up to the pushed message is gone for good: go on from
      // it (the hub sees the jump), rather than asking the stream for it again and again.
      if (Number.isFinite(through) && this.last! < through - 1) this.last = through - 1;
    } finally {
      this.filling = false;
    }
    this.scheduleDrain();
  }
}

function versionOf(message: string): number | undefined {
  const space = message.indexOf(' ');
  const version = space > 0 ? Number(message.slice(0, space)) : Number.NaN;
  return Number.isSafeInteger(version) && version > 0 ? version : undefined;
}

function eventOf(message: string, version: number): WatchEvent | undefined {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  const type = message.slice(first + 1, second);
  if (second < 0 || (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')) return undefined;
  try {
    return {
      type: type as WatchEventType,
      resourceVersion: version,
      object: parseCodespace(message.slice(second + 1)),
    };
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
