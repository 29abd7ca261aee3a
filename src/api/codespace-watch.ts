import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import type { Store, WatchSubscription } from '../store/store.js';
import { matchesLabels } from './label-selector.js';
import { canAccess, type Principal } from './principal.js';
import { formatSseMessage, formatWatchEventMessage } from './sse-format.js';
import type { WatchLease, WatchRegistry } from './watch-registry.js';

/**
 * How long to wait for the store to accept a starting version before the stream is opened.
 * A version outside retained history normally fails at once and answers a plain 410; a store
 * slower than this reports it inside the stream as an `ERROR` event instead.
 */
export const watchStartDeadlineMs = 250;
/**
 * A client that reads nothing for this long loses its stream (and its slot under the per-token
 * cap). Memory is bounded without it — the store cuts off a consumer past its buffer limit and
 * this side queues at most one batch past the socket's high-water mark — but a dead reader must
 * not hold a slot forever.
 */
export const watchDrainTimeoutMs = 60_000;
/** Hint to EventSource clients for how soon to reconnect after the stream ends. */
export const watchReconnectHintMs = 1000;

const resourceVersionPattern = /^[0-9]{1,15}$/;

export interface WatchStreamOptions {
  store: Store;
  watches: WatchRegistry;
  principal: Principal;
  /** Label equality filter; empty matches all. */
  labelSelector: Readonly<Record<string, string>>;
  /** `?resourceVersion=` as given (already matched against its pattern by the route schema). */
  queryResourceVersion: string | undefined;
  bookmarkIntervalMs: number;
  bufferLimit: number;
}

/**
 * `GET /v1/codespaces?watch=1`: every change after the starting version as Server-Sent
 * Events, each exactly once and in order, then live changes. `Last-Event-ID` (a reconnecting
 * client) wins over `?resourceVersion=`. BOOKMARK events carry the version the stream has
 * reached, including changes the caller may not see, so a resume starts close to the head.
 */
export async function serveCodespaceWatch(
  request: FastifyRequest,
  reply: FastifyReply,
  options: WatchStreamOptions,
): Promise<void> {
  const fromResourceVersion = await startingVersion(request, options);
  const lease = options.watches.acquire(options.principal.tokenKey);
  let stream: WatchStream | undefined;
  try {
    stream = new WatchStream(request, options, lease, fromResourceVersion);
    const start = await stream.started(watchStartDeadlineMs);
    if (start.error !== undefined) throw start.error;
  } catch (error) {
    if (stream === undefined) lease.release();
    else stream.finish();
    throw error;
  }
  reply.hijack();
  await stream.run(reply.raw);
}

type StartOutcome = { error: CodeyardError | undefined };

/**
 * One SSE watch on the store's push API: each ready run of events is written as one chunk from
 * inside the store's callback, with no promise per batch. Back-pressure pauses the subscription
 * while the client drains; the store cuts off a subscriber paused past its buffer limit, and
 * then the stream ends so the client resumes with Last-Event-ID.
 */
class WatchStream {
  private readonly subscription: WatchSubscription;
  private raw: ServerResponse | undefined;
  /** Batches that arrived before the stream was open (the subscription pauses at the first). */
  private readonly early: (readonly WatchEvent[])[] = [];
  private lastSeenVersion: number;
  private blocked = false;
  private ended = false;
  private endError: CodeyardError | undefined;
  private onStart: ((outcome: StartOutcome) => void) | undefined;
  private onFinish: (() => void) | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.finish();

  constructor(
    private readonly request: FastifyRequest,
    private readonly options: WatchStreamOptions,
    private readonly lease: WatchLease,
    fromResourceVersion: number,
  ) {
    this.lastSeenVersion = fromResourceVersion;
    this.subscription = options.store.subscribeCodespaceEvents({
      fromResourceVersion,
      bufferLimit: options.bufferLimit,
      onEvents: (events) => this.onEvents(events),
      onEnd: (error) => this.onEnd(error),
    });
  }

  /**
   * Resolves once the store delivered or ended, or after `deadlineMs` (a quiet store): a version
   * outside retained history normally fails at once and answers a plain 410.
   */
  started(deadlineMs: number): Promise<StartOutcome> {
    if (this.ended || this.early.length > 0) return Promise.resolve({ error: this.takeEndError() });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onStart = undefined;
        resolve({ error: undefined });
      }, deadlineMs);
      this.onStart = (outcome) => {
        clearTimeout(timer);
        this.onStart = undefined;
        resolve(outcome);
      };
    });
  }

  /** Opens the stream and serves it until the client goes, the store ends it, or shutdown. */
  run(raw: ServerResponse): Promise<void> {
    this.raw = raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const finished = new Promise<void>((resolve) => {
      this.onFinish = resolve;
    });
    raw.on('close', () => this.lease.abort());
    this.lease.signal.addEventListener('abort', this.onAbort, { once: true });
    // The client may have gone during the start window, before those listeners existed.
    if (raw.destroyed || raw.socket === null || raw.socket.destroyed || this.lease.signal.aborted) {
      this.finish();
      return finished;
    }
    this.write(`retry: ${watchReconnectHintMs}\n\n${this.bookmark()}`);
    for (const events of this.early.splice(0)) this.writeEvents(events);
    if (this.ended) {
      // The store ended it while the stream was opening: say why (if it failed), then close.
      this.writeEnd();
      return finished;
    }
    this.bookmarkTimer = setInterval(() => {
      // A client that is not reading gets nothing more queued: only its buffered events.
      if (!this.blocked && isWritable(raw)) raw.write(this.bookmark());
    }, this.options.bookmarkIntervalMs);
    if (!this.blocked) this.subscription.resume();
    return finished;
  }

  /** Idempotent: stops the subscription, frees the slot and ends the response. */
  finish(): void {
    this.subscription.close();
    clearInterval(this.bookmarkTimer);
    this.lease.signal.removeEventListener('abort', this.onAbort);
    this.lease.release();
    if (this.raw !== undefined && !this.raw.writableEnded) this.raw.end();
    const onFinish = this.onFinish;
    this.onFinish = undefined;
    onFinish?.();
  }

  private onEvents(events: readonly WatchEvent[]): void {
    if (this.raw === undefined) {
      // Not open yet: hold the batch and let the store hold the rest (bounded by bufferLimit).
      this.early.push(events);
      this.subscription.pause();
      this.onStart?.({ error: undefined });
      return;
    }
    this.writeEvents(events);
  }

  private onEnd(error: CodeyardError | undefined): void {
    this.ended = true;
    this.endError = error;
    if (this.onStart !== undefined) {
      this.onStart({ error: this.takeEndError() });
      return;
    }
    if (this.raw !== undefined) this.writeEnd();
  }

  /** Every event that was ready at once goes out in one write: one syscall per batch. */
  private writeEvents(events: readonly WatchEvent[]): void {
    let chunk = '';
    for (const event of events) {
      if (isVisible(event, this.options)) chunk += formatWatchEventMessage(event);
    }
    this.lastSeenVersion = events[events.length - 1]!.resourceVersion;
    if (chunk !== '') this.write(chunk);
  }

  private write(chunk: string): void {
    const raw = this.raw!;
    if (!isWritable(raw) || raw.write(chunk)) return;
    // Backpressure: take nothing more from the store until the client drains. If it never
    // does, the store cuts this subscriber off at its buffer limit and the stream ends.
    this.blocked = true;
    this.subscription.pause();
    void waitForDrain(raw, this.lease.signal, watchDrainTimeoutMs).then((drained) => {
      this.blocked = false;
      if (!drained) this.lease.abort();
      else if (!this.ended) this.subscription.resume();
    });
  }

  /** The store ended the subscription: report an error in-band, then end so the client resumes. */
  private writeEnd(): void {
    const error = this.takeEndError();
    if (error !== undefined) {
      if (error.code === 'INTERNAL')
        this.request.log.error({ err: error.cause ?? error }, 'watch stream failed');
      if (isWritable(this.raw!)) {
        this.raw!.write(
          formatSseMessage({ event: 'ERROR', data: { code: error.code, message: error.message } }),
        );
      }
    }
    this.finish();
  }

  private takeEndError(): CodeyardError | undefined {
    const error = this.endError;
    this.endError = undefined;
    return error;
  }

  private bookmark(): string {
    return formatSseMessage({
      id: String(this.lastSeenVersion),
      event: 'BOOKMARK',
      data: { resourceVersion: String(this.lastSeenVersion) },
    });
  }
}

async function startingVersion(request: FastifyRequest, options: WatchStreamOptions): Promise<number> {
  const lastEventId = request.headers['last-event-id'];
  if (
    lastEventId !== undefined &&
    (typeof lastEventId !== 'string' || !resourceVersionPattern.test(lastEventId))
  ) {
    throw new CodeyardError('INVALID_PARAMETER', 'Last-Event-ID must be a resourceVersion (digits)', {
      field: 'Last-Event-ID',
    });
  }
  // Asked even when the client names a version: a store that is down answers 503 now,
  // instead of a stream that stays silent until the store is back.
  const current = await options.store.currentResourceVersion();
  const requested =
    typeof lastEventId === 'string'
      ? Number(lastEventId)
      : options.queryResourceVersion === undefined
        ? undefined
        : Number(options.queryResourceVersion);
  // No version: changes from now on. Clients that need the current state list first and
  // watch from the list's resourceVersion.
  if (requested === undefined) return current;
  if (requested > current) {
    // Versions only grow, so the store was reset (data lost): waiting would silently skip
    // every change up to `requested`. The client must relist, exactly as for compacted history.
    throw new CodeyardError(
      'RESOURCE_VERSION_TOO_OLD',
      `resourceVersion ${requested} is newer than the store's (${current}); the store was reset: list again`,
      { field: typeof lastEventId === 'string' ? 'Last-Event-ID' : 'resourceVersion' },
    );
  }
  return requested;
}

/** True once the client has drained; false if it went away, the watch ended or it took too long. */
function waitForDrain(raw: ServerResponse, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (drained: boolean): void => {
      clearTimeout(timer);
      raw.off('drain', onDrain);
      raw.off('close', onGone);
      signal.removeEventListener('abort', onGone);
      resolve(drained);
    };
    const onDrain = (): void => finish(true);
    const onGone = (): void => finish(false);
    const timer = setTimeout(onGone, timeoutMs);
    raw.once('drain', onDrain);
    raw.once('close', onGone);
    signal.addEventListener('abort', onGone, { once: true });
    if (signal.aborted) finish(false);
  });
}

function isVisible(event: WatchEvent, options: WatchStreamOptions): boolean {
  return (
    canAccess(options.principal, event.object) &&
    matchesLabels(event.object.metadata.labels, options.labelSelector)
  );
}

function isWritable(raw: ServerResponse): boolean {
  return !raw.writableEnded && !raw.destroyed;
}
