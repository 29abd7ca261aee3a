import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import type { Store } from '../store/store.js';
import { matchesLabels } from './label-selector.js';
import { canAccess, type Principal } from './principal.js';
import { formatSseMessage, formatWatchEventMessage } from './sse-format.js';
import type { WatchRegistry } from './watch-registry.js';

/**
 * How long to wait for the store to accept a starting version before the stream is opened.
 * A version outside retained history normally fails at once and answers a plain 410; a store
 * slower than this reports it inside the stream as an `ERROR` event instead.
 */
export const watchStartDeadlineMs = 250;
/**
 * A client that reads nothing for this long loses its stream (and its slot under the per-token
 * cap). Memory is bounded without it — the store cuts off a consumer past its buffer limit and
 * this side holds at most one unsent event — but a dead reader must not hold a slot forever.
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
  let iterator: AsyncIterator<readonly WatchEvent[]>;
  let first: Promise<IteratorResult<readonly WatchEvent[]>>;
  try {
    iterator = options.store
      .watchCodespaceBatches({ fromResourceVersion, signal: lease.signal, bufferLimit: options.bufferLimit })
      [Symbol.asyncIterator]();
    first = iterator.next();
    first.catch(ignore);
    const early = await settleWithin(first, watchStartDeadlineMs);
    if (early.state === 'rejected') throw early.error;
  } catch (error) {
    lease.release();
    throw error;
  }

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.on('close', () => lease.abort());
  // The client may have gone during the start window, before that listener existed.
  if (raw.destroyed || raw.socket === null || raw.socket.destroyed) lease.abort();

  let lastSeenVersion = fromResourceVersion;
  let blocked = false;
  const bookmark = (): string =>
    formatSseMessage({
      id: String(lastSeenVersion),
      event: 'BOOKMARK',
      data: { resourceVersion: String(lastSeenVersion) },
    });
  const bookmarkTimer = setInterval(() => {
    // A client that is not reading gets nothing more queued: only its buffered events.
    if (!blocked && isWritable(raw)) raw.write(bookmark());
  }, options.bookmarkIntervalMs);

  const send = async (chunk: string): Promise<void> => {
    if (!isWritable(raw)) return;
    if (!raw.write(chunk)) {
      // Backpressure: stop pulling from the store until the client drains. If it never
      // does, the store cuts this consumer off at its buffer limit and the stream ends.
      blocked = true;
      const drained = await waitForDrain(raw, lease.signal, watchDrainTimeoutMs);
      blocked = false;
      if (!drained) lease.abort();
    }
  };

  try {
    await send(`retry: ${watchReconnectHintMs}\n\n${bookmark()}`);
    // No race against the abort signal here: the store ends the iteration when the lease's
    // signal aborts (its contract), and a race per batch would pile reactions onto a promise
    // that lives as long as the stream.
    let pending = first;
    for (;;) {
      const next = await pending;
      if (next.done === true || lease.signal.aborted) break;
      // Every event that was ready at once goes out in one write: one syscall per batch.
      let chunk = '';
      for (const event of next.value) {
        if (isVisible(event, options)) chunk += formatWatchEventMessage(event);
      }
      lastSeenVersion = next.value[next.value.length - 1]!.resourceVersion;
      if (chunk !== '') await send(chunk);
      pending = iterator.next();
    }
  } catch (error) {
    // The stream is already open: report in-band, then end so the client resumes or relists.
    const code = error instanceof CodeyardError ? error.code : 'INTERNAL';
    const message = error instanceof CodeyardError ? error.message : 'watch failed';
    if (!(error instanceof CodeyardError)) request.log.error({ err: error }, 'watch stream failed');
    if (isWritable(raw)) raw.write(formatSseMessage({ event: 'ERROR', data: { code, message } }));
  } finally {
    clearInterval(bookmarkTimer);
    lease.release();
    void iterator.return?.().catch(() => undefined);
    if (!raw.writableEnded) raw.end();
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

function ignore(): void {}

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

type Settled<T> =
  { state: 'fulfilled'; value: T } | { state: 'rejected'; error: unknown } | { state: 'pending' };

async function settleWithin<T>(promise: Promise<T>, timeoutMs: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), timeoutMs);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ state: 'fulfilled', value }),
        (error: unknown): Settled<T> => ({ state: 'rejected', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
