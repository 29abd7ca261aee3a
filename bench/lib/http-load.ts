import { connect, type Socket } from 'node:net';
import { LatencyHistogram } from './latency-histogram.js';

/** A connection that gets no complete answer within this long fails the run. */
export const httpLoadStallTimeoutMs = 10_000;
const headEnd = Buffer.from('\r\n\r\n');

export interface HttpLoadResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  latency: LatencyHistogram;
}

/**
 * A closed-loop keep-alive HTTP/1.1 load generator on raw sockets: each of `connections`
 * sockets sends one pre-built GET, waits for the whole answer (Content-Length framed; every
 * contender forwards the upstream's Content-Length), and sends the next. Cheap enough per
 * request that one core drives the system under test on the other.
 */
export async function runHttpLoad(options: {
  port: number;
  path: string;
  headers: Readonly<Record<string, string>>;
  connections: number;
  durationMs: number;
}): Promise<HttpLoadResult> {
  const head =
    `GET ${options.path} HTTP/1.1\r\nhost: 127.0.0.1:${options.port}\r\n` +
    Object.entries(options.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  const payload = Buffer.from(head);
  const latency = new LatencyHistogram();
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;

  const oneConnection = (): Promise<void> =>
    new Promise((resolve) => {
      const socket: Socket = connect({ host: '127.0.0.1', port: options.port, noDelay: true });
      let buffered: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const stall = setInterval(() => {
        if (performance.now() - sentAt > httpLoadStallTimeoutMs) {
          errors += 1;
          socket.destroy();
        }
      }, 1_000);
      const send = (): void => {
        if (performance.now() >= deadline) {
          socket.end();
          return;
        }
        sentAt = performance.now();
        socket.write(payload);
      };
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        for (;;) {
          const end = buffered.indexOf(headEnd);
          if (end < 0) return;
          const headText = buffered.subarray(0, end).toString('latin1');
          const status = Number(headText.slice(9, 12));
          const match = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
          const bodyLength = match ? Number(match[1]) : 0;
          const total = end + 4 + bodyLength;
          if (buffered.length < total) return;
          buffered = buffered.subarray(total);
          if (status === 200) {
            requests += 1;
            latency.record((performance.now() - sentAt) * 1000);
          } else errors += 1;
          send();
        }
      });
      socket.on('error', () => {
        errors += 1;
      });
      socket.on('close', () => {
        clearInterval(stall);
        resolve();
      });
    });

  await Promise.all(Array.from({ length: options.connections }, oneConnection));
  return { requests, errors, elapsedMs: performance.now() - started, latency };
}
