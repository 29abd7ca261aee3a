import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { monotonicMicros, sleep } from '../lib/monotonic-clock.js';
import type { DeliveryLedger } from './delivery-ledger.js';

/** A stream must answer with its headers within this (ours sends them within 250 ms). */
const sseConnectTimeoutMs = 10_000;
/** Connection attempts (the first, then retries after 503 or a dropped stream) per watcher. */
const sseAttemptsMax = 20;
/** What our server's `Retry-After: 1` and `retry: 1000` ask of a client. */
const sseRetryDelayMs = 1000;

const seqPattern = /"seq":"([0-9]+)"/;
const sentPattern = /"sent":"([0-9]+)"/;
const idPattern = /^id: ([0-9]+)$/m;

export interface SseWatcher {
  /** Times the stream was reopened (after a 503 or when the server ended it). */
  readonly resumes: number;
  close(): void;
}

/**
 * One real HTTP client on its own connection, reading a Server-Sent Events stream the way
 * EventSource does: when the stream ends or the server answers 503, it reconnects after the
 * retry delay with `Last-Event-ID`. Change events (ADDED / MODIFIED / DELETED) are checked and
 * timed from their `seq` / `sent` labels, pulled out with a regex rather than a full JSON parse so
 * the client costs the same whichever server it reads; BOOKMARKs only advance the resume point.
 * Resolves once the first connection is open.
 */
export async function openSseWatcher(options: {
  url: string;
  headers?: Readonly<Record<string, string>>;
  ledger: DeliveryLedger;
  onDelivered: () => void;
}): Promise<SseWatcher> {
  let closed = false;
  let current: ClientRequest | undefined;
  let lastEventId: string | undefined;
  let attempts = 0;
  const watcher = {
    resumes: 0,
    close() {
      closed = true;
      current?.destroy();
    },
  };

  const connect = (): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req = request(options.url, {
        agent: false,
        headers: {
          accept: 'text/event-stream',
          ...options.headers,
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
      });
      current = req;
      const timer = setTimeout(
        () => req.destroy(new Error(`no SSE response within ${sseConnectTimeoutMs} ms`)),
        sseConnectTimeoutMs,
      );
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.once('response', (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      req.end();
    });

  const follow = (response: IncomingMessage): Promise<void> =>
    new Promise((resolve) => {
      response.setEncoding('utf8');
      let buffered = '';
      response.on('data', (chunk: string) => {
        const receivedMicros = monotonicMicros();
        buffered += chunk;
        let end = buffered.indexOf('\n\n');
        while (end !== -1) {
          const message = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf('\n\n');
          // The event id is the order the server sent them in (ours: the resourceVersion).
          const id = idPattern.exec(message)?.[1];
          if (id !== undefined) lastEventId = id;
          if (!isChangeEvent(message)) continue;
          const seq = seqPattern.exec(message)?.[1];
          const sent = sentPattern.exec(message)?.[1];
          if (seq === undefined || sent === undefined || id === undefined) continue;
          options.ledger.record(Number(seq), Number(id), Number(sent), receivedMicros);
          options.onDelivered();
        }
      });
      response.once('close', () => resolve());
      response.once('error', () => resolve());
    });

  /** Opens a stream, retrying 503s; undefined once closed or out of attempts. */
  const open = async (): Promise<IncomingMessage | undefined> => {
    while (!closed && attempts < sseAttemptsMax) {
      attempts += 1;
      if (attempts > 1) watcher.resumes += 1;
      try {
        const response = await connect();
        if (response.statusCode === 200) return response;
        response.resume();
        if (response.statusCode !== 503)
          throw new Error(`SSE ${options.url} answered ${response.statusCode}`);
      } catch (error) {
        if (attempts >= sseAttemptsMax) throw error;
      }
      await sleep(sseRetryDelayMs);
    }
    return undefined;
  };

  const first = await open();
  if (first === undefined) throw new Error(`SSE ${options.url}: no stream after ${attempts} attempts`);
  void (async () => {
    let response: IncomingMessage | undefined = first;
    while (response !== undefined) {
      await follow(response);
      if (closed) return;
      // The server ended the stream (cut off, or shutting down): resume where we were.
      await sleep(sseRetryDelayMs);
      response = await open().catch(() => undefined);
    }
  })();
  return watcher;
}

function isChangeEvent(message: string): boolean {
  return (
    message.includes('event: MODIFIED\n') ||
    message.includes('event: ADDED\n') ||
    message.includes('event: DELETED\n')
  );
}
