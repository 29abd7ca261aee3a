import { request, type ClientRequest } from 'node:http';
import { monotonicMicros } from '../lib/monotonic-clock.js';
import type { DeliveryLedger } from './delivery-ledger.js';

/** A stream must answer with its headers within this (ours sends them within 250 ms). */
const sseConnectTimeoutMs = 10_000;

const seqPattern = /"seq":"([0-9]+)"/;
const sentPattern = /"sent":"([0-9]+)"/;

export interface SseWatcher {
  close(): void;
}

/**
 * One real HTTP client on its own connection, reading a Server-Sent Events stream. Change events
 * (ADDED / MODIFIED / DELETED) are checked and timed from their `seq` / `sent` labels, pulled out
 * with a regex rather than a full JSON parse so the client costs the same whichever server it
 * reads; BOOKMARK and other events are ignored.
 */
export function openSseWatcher(options: {
  url: string;
  headers?: Readonly<Record<string, string>>;
  ledger: DeliveryLedger;
  onDelivered: () => void;
}): Promise<SseWatcher> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | undefined = undefined;
    const timer = setTimeout(() => {
      req?.destroy();
      reject(new Error(`no SSE response from ${options.url} within ${sseConnectTimeoutMs} ms`));
    }, sseConnectTimeoutMs);
    req = request(options.url, {
      agent: false,
      headers: { accept: 'text/event-stream', ...options.headers },
    });
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.once('response', (response) => {
      clearTimeout(timer);
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`SSE ${options.url} answered ${response.statusCode}`));
        return;
      }
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
          if (!isChangeEvent(message)) continue;
          const seq = seqPattern.exec(message)?.[1];
          const sent = sentPattern.exec(message)?.[1];
          if (seq === undefined || sent === undefined) continue;
          options.ledger.record(Number(seq), Number(sent), receivedMicros);
          options.onDelivered();
        }
      });
      response.on('error', () => undefined);
      resolve({ close: () => req?.destroy() });
    });
    req.end();
  });
}

function isChangeEvent(message: string): boolean {
  return (
    message.includes('event: MODIFIED\n') ||
    message.includes('event: ADDED\n') ||
    message.includes('event: DELETED\n')
  );
}
