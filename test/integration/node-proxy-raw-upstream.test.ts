import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxResponseHeadBytes } from '../../src/node-proxy/response-head.js';
import { upstreamIdleSocketTimeoutMs } from '../../src/node-proxy/upstream-http.js';
import { upstreamIdleSweepIntervalMs } from '../../src/node-proxy/upstream-raw.js';
import {
  aRoute,
  cookiePair,
  httpGet,
  refusedPort,
  startProxy,
  type ProxyHarness,
} from '../support/node-proxy-harness.js';

/**
 * The raw forwarder (upstream-raw.ts) against a hostile container: a plain TCP server that
 * answers each request path with scripted bytes, malformed ones included. Whatever the
 * container sends, the client gets a 502 or a cut connection, never a crash and never bytes
 * that belong to another answer.
 */

interface ContainerRequest {
  connection: number;
  head: string;
  body: string;
}

const scripts: Record<string, (socket: Socket, request: ContainerRequest) => void> = {
  '/ok': (s, r) => s.write(answer(`ok ${r.connection}`)),
  '/conflicting-length': (s) =>
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc'),
  '/huge-head': (s) => s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(maxResponseHeadBytes * 2)}`),
  '/cut-mid-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..');
    setTimeout(() => s.destroy(), 20);
  },
  '/extra-bytes': (s) => s.write(`${answer('first')}${answer('smuggled')}`),
  '/chunked': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n' +
        '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n',
    ),
  '/bad-chunked': (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX'),
  '/slow-big': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
    s.write(Buffer.alloc(1000, 0x61));
  },
  '/early-hints': (s) =>
    s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' + answer('after hints')),
  '/close-delimited': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end'),
  '/echo-body': (s, r) => s.write(answer(`got ${r.body.length}: ${r.body}`)),
  '/switch': (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'),
  '/close-after': (s) => s.end(answer('bye')),
  '/big': (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${bigBodyBytes}\r\n\r\n`);
    s.write(Buffer.alloc(bigBodyBytes, 0x62));
  },
  '/pattern': (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${patternBody.length}\r\n\r\n`);
    s.write(patternBody);
  },
  '/pattern-chunked': (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    // An odd chunk size, so chunk boundaries never line up with the proxy's reads.
    for (let start = 0; start < patternBody.length; start += patternChunkBytes) {
      const chunk = patternBody.subarray(start, start + patternChunkBytes);
      s.write(`${chunk.length.toString(16)}\r\n`);
      s.write(chunk);
      s.write('\r\n');
    }
    s.write('0\r\n\r\n');
  },
  '/big-chunked': (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let sent = 0; sent < bigBodyBytes; sent += 100_000) {
      s.write(`${(100_000).toString(16)}\r\n${'c'.repeat(100_000)}\r\n`);
    }
    s.write('0\r\n\r\n');
  },
};

/** Far more than the socket buffers hold: the client's slowness must reach the container. */
const bigBodyBytes = 8_000_000;
/**
 * Every byte depends on its position (251 is prime: the pattern never lines up with a read
 * buffer), so a read buffer reused while a write still pointed into it shows as wrong bytes.
 */
const patternBody = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7 + (i >> 13)) % 251));
const patternChunkBytes = 70_001;

function answer(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

let container: Server;
let connections = 0;
const containerSockets = new Set<Socket>();
let proxy: ProxyHarness;
let cookie: string;

/** Reads requests one after another (Content-Length or chunked bodies) and runs their script. */
function serveConnection(socket: Socket): void {
  const connection = ++connections;
  containerSockets.add(socket);
  socket.on('close', () => containerSockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let buffered = '';
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    buffered += text;
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.slice(0, end);
      let rest = buffered.slice(end + 4);
      let body = '';
      const length = /content-length: (\d+)/i.exec(head);
      if (length) {
        if (rest.length < Number(length[1])) return;
        body = rest.slice(0, Number(length[1]));
        rest = rest.slice(body.length);
      } else if (/transfer-encoding: chunked/i.test(head)) {
        const last = rest.indexOf('0\r\n\r\n');
        if (last === -1) return;
        body = rest.slice(0, last).replace(/[0-9a-f]+\r\n([^]*?)\r\n/g, '$1');
        rest = rest.slice(last + 5);
      }
      buffered = rest;
      const path = head.split(' ')[1]!;
      if (path.startsWith('/id/')) socket.write(answer(`id ${path.slice(4)}`));
      else (scripts[path] ?? scripts['/ok']!)(socket, { connection, head, body });
    }
  });
}

/** One raw request on a new client connection; everything the proxy sends until it closes (or a cap). */
async function rawRequest(
  path: string,
  extra = '',
  capMs = 3_000,
): Promise<{ text: string; closedByProxy: boolean }> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  await once(socket, 'connect');
  socket.write(`GET /cs/alpha${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n${extra}\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  let closedByProxy = true;
  const timer = setTimeout(() => {
    closedByProxy = false;
    socket.destroy();
  }, capMs);
  await once(socket, 'close');
  clearTimeout(timer);
  return { text: Buffer.concat(chunks).toString('latin1'), closedByProxy };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    const size = parseInt(body.toString('latin1', offset, lineEnd), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

async function get(path: string) {
  return httpGet(proxy.port, `/cs/alpha${path}`, { cookie });
}

beforeAll(async () => {
  container = createServer(serveConnection);
  await new Promise<void>((resolve) => container.listen(0, '127.0.0.1', resolve));
  proxy = await startProxy({ config: { forwarder: 'raw' } });
  proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: (container.address() as AddressInfo).port }));
  const token = await proxy.token({ user: 'alice', codespace: 'alpha' });
  cookie = cookiePair((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).setCookies[0]!);
});

afterAll(async () => {
  await proxy.close();
  for (const socket of containerSockets) socket.destroy();
  await new Promise<void>((resolve) => container.close(() => resolve()));
});

describe('node proxy, raw forwarder: hostile container answers', () => {
  it('reuses one pooled connection for answers that end where their framing says', async () => {
    const first = await get('/ok');
    const second = await get('/ok');
    expect(first.status).toBe(200);
    expect(second.body).toBe(first.body);
  });

  it('answers 502 to conflicting Content-Length and drops that connection', async () => {
    const before = connections;
    expect((await get('/conflicting-length')).status).toBe(502);
    const next = await get('/ok');
    expect(next.body).toBe(`ok ${connections}`);
    expect(connections).toBeGreaterThan(before);
  });

  it('answers 502 to a response head larger than the bound', async () => {
    expect((await get('/huge-head')).status).toBe(502);
  });

  it('answers 502 to a protocol switch on a plain request', async () => {
    expect((await get('/switch')).status).toBe(502);
  });

  it('cuts the client off when the container closes mid-body, and keeps serving', async () => {
    const { text, closedByProxy } = await rawRequest('/cut-mid-body');
    expect(closedByProxy).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text.toLowerCase()).toContain('content-length: 100\r\n');
    expect(text.endsWith('\r\n\r\nonly ten..')).toBe(true);
    expect((await get('/ok')).status).toBe(200);
  });

  it('never passes bytes sent after the end of an answer to anyone', async () => {
    const first = await get('/extra-bytes');
    expect(first.body).toBe('first');
    // The connection that carried the stray answer is gone: the next request opens a new one.
    const before = connections;
    const next = await get('/ok');
    expect(next.body).toBe(`ok ${before + 1}`);
    expect(next.body).not.toContain('smuggled');
  });

  it('decodes a chunked answer, drops its trailers and reuses the connection', async () => {
    const chunked = await get('/chunked');
    expect(chunked.status).toBe(200);
    expect(chunked.body).toBe('hello, world');
    expect(chunked.headers['x-trailer']).toBeUndefined();
    const before = connections;
    await get('/ok');
    expect(connections).toBe(before);
  });

  it('cuts the client off on a malformed chunked body', async () => {
    // The head may not even have left Node's buffer when the body turns out bad: either way the
    // client sees a connection closed before a complete answer.
    const { text, closedByProxy } = await rawRequest('/bad-chunked');
    expect(closedByProxy).toBe(true);
    expect(text).not.toContain('\r\n0\r\n\r\n');
    expect((await get('/ok')).status).toBe(200);
  });

  it('closes the container connection when the client leaves mid-answer', async () => {
    const socket = connect({ host: '127.0.0.1', port: proxy.port });
    await once(socket, 'connect');
    const containerConnections = new Set(containerSockets);
    socket.write(`GET /cs/alpha/slow-big HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n\r\n`);
    await once(socket, 'data');
    const carrying =
      [...containerSockets].find((s) => !containerConnections.has(s)) ?? [...containerSockets][0]!;
    socket.destroy();
    if (!carrying.destroyed) await once(carrying, 'close');
    expect(carrying.destroyed).toBe(true);
    expect((await get('/ok')).status).toBe(200);
  });

  it('streams large answers to a slow client with backpressure, and reuses the connection', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const socket = connect({ host: '127.0.0.1', port: proxy.port });
      await once(socket, 'connect');
      socket.write(
        `GET /cs/alpha${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      );
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      });
      await once(socket, 'close');
      expect(received, path).toBeGreaterThan(bigBodyBytes);
    }
    expect((await get('/ok')).status).toBe(200);
  }, 30_000);

  it('skips interim 1xx answers', async () => {
    const answered = await get('/early-hints');
    expect(answered.status).toBe(200);
    expect(answered.body).toBe('after hints');
  });

  it('streams a close-delimited answer to its end', async () => {
    const answered = await get('/close-delimited');
    expect(answered.status).toBe(200);
    expect(answered.body).toBe('until the end');
  });

  it('forwards Content-Length and chunked request bodies', async () => {
    const sized = await fetch(`${proxy.baseUrl}/cs/alpha/echo-body`, {
      method: 'POST',
      headers: { cookie },
      body: 'twelve bytes',
    });
    expect(await sized.text()).toBe('got 12: twelve bytes');
    const { text } = await rawRequest(
      '/echo-body',
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain('got 5: abcde');
  });

  it('opens a new connection when the container closed the pooled one', async () => {
    expect((await get('/close-after')).body).toBe('bye');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await get('/ok');
    expect(next.status).toBe(200);
    expect(next.body).toBe(`ok ${connections}`);
  });

  it('delivers every byte of large answers intact to slow and fast clients at once', async () => {
    const receive = async (path: string, slow: boolean): Promise<Buffer> => {
      const socket = connect({ host: '127.0.0.1', port: proxy.port });
      await once(socket, 'connect');
      socket.write(
        `GET /cs/alpha${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      );
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (!slow) return;
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      });
      await once(socket, 'close');
      const whole = Buffer.concat(chunks);
      const headEnd = whole.indexOf('\r\n\r\n') + 4;
      const head = whole.subarray(0, headEnd).toString('latin1');
      const body = whole.subarray(headEnd);
      // Node re-frames an unsized answer as chunked: take the chunk data back out.
      return /transfer-encoding: chunked/i.test(head) ? dechunk(body) : body;
    };
    const bodies = await Promise.all(
      ['/pattern', '/pattern-chunked'].flatMap((path) => [receive(path, true), receive(path, false)]),
    );
    for (const body of bodies) {
      expect(body.length).toBe(patternBody.length);
      expect(body.equals(patternBody)).toBe(true);
    }
    expect((await get('/ok')).status).toBe(200);
  }, 30_000);

  it('gives every client its own answer while hostile answers interleave on the pool', async () => {
    const hostile = ['/extra-bytes', '/conflicting-length', '/cut-mid-body', '/bad-chunked', '/chunked'];
    const outcomes = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        if (i % 4 === 3) {
          await get(hostile[i % hostile.length]!).catch(() => undefined);
          return true;
        }
        const answered = await get(`/id/${i}`);
        return answered.status === 200 && answered.body === `id ${i}`;
      }),
    );
    expect(outcomes.every(Boolean)).toBe(true);
  });

  it(
    'closes pooled connections after 3-4 s idle, before the container keep-alive (5 s) would',
    async () => {
      const before = new Set(containerSockets);
      await get('/ok');
      const pooled = [...containerSockets].filter((s) => !before.has(s));
      const idleStart = Date.now();
      for (const socket of containerSockets) if (!socket.destroyed) await once(socket, 'close');
      expect(pooled.every((s) => s.destroyed)).toBe(true);
      const idleMs = Date.now() - idleStart;
      expect(idleMs).toBeGreaterThanOrEqual(upstreamIdleSocketTimeoutMs - upstreamIdleSweepIntervalMs - 100);
      expect(idleMs).toBeLessThan(upstreamIdleSocketTimeoutMs + 500);
    },
    upstreamIdleSocketTimeoutMs + 3 * upstreamIdleSweepIntervalMs,
  );

  it('answers 502 when the container refuses connections', async () => {
    const refused = await startProxy({ config: { forwarder: 'raw' } });
    try {
      refused.routes.set('alpha', aRoute({ owner: 'alice', hostPort: await refusedPort() }));
      const token = await refused.token({ user: 'alice', codespace: 'alpha' });
      const own = cookiePair(
        (await httpGet(refused.port, `/cs/alpha/?codeyard_token=${token}`)).setCookies[0]!,
      );
      expect((await httpGet(refused.port, '/cs/alpha/', { cookie: own })).status).toBe(502);
    } finally {
      await refused.close();
    }
  });
});
