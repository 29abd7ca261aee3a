import WebSocket from 'ws';
import { LatencyHistogram } from './latency-histogram.js';

export const wsOpenTimeoutMs = 10_000;

export interface WsPingPongResult {
  messages: number;
  errors: number;
  elapsedMs: number;
  latency: LatencyHistogram;
}

/** Opens one WebSocket (no compression) or fails within `wsOpenTimeoutMs`. */
export function openWebSocket(url: string, headers: Readonly<Record<string, string>>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`WebSocket ${url} did not open within ${wsOpenTimeoutMs} ms`));
    }, wsOpenTimeoutMs);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Message ping-pong: each of `connections` sockets sends a `messageBytes` text message, waits
 * for the echo, sends the next; the round trip is the latency. Sockets are opened before the
 * clock starts (the upgrade is not what is measured).
 */
export async function runWsPingPong(options: {
  url: string;
  headers: Readonly<Record<string, string>>;
  connections: number;
  durationMs: number;
  messageBytes: number;
}): Promise<WsPingPongResult> {
  const sockets = await Promise.all(
    Array.from({ length: options.connections }, () => openWebSocket(options.url, options.headers)),
  );
  const message = 'x'.repeat(options.messageBytes);
  const latency = new LatencyHistogram();
  let messages = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          let sentAt = 0;
          const send = (): void => {
            if (performance.now() >= deadline) {
              socket.close();
              return;
            }
            sentAt = performance.now();
            socket.send(message);
          };
          socket.on('message', () => {
            messages += 1;
            latency.record((performance.now() - sentAt) * 1000);
            send();
          });
          socket.on('error', () => (errors += 1));
          socket.on('close', () => resolve());
          send();
        }),
    ),
  );
  return { messages, errors, elapsedMs: performance.now() - started, latency };
}
