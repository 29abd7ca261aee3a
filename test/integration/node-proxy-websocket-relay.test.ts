import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBufferBytes } from '../../src/node-proxy/websocket-upgrade.js';
import { aRoute, cookiePair, httpGet, startProxy, type ProxyHarness } from '../support/node-proxy-harness.js';

/**
 * The WebSocket relay at the byte level, against a raw TCP "container" that answers the
 * upgrade and then does what each test needs: floods, reads slowly, half-closes. The relay
 * reads each direction into one buffer for the tunnel's life, so these tests check, both ways,
 * that bytes a slow reader has not taken yet are never overwritten by the next read.
 */

/** Far more than the socket buffers on both legs hold, so writes queue and backpressure starts. */
const floodBytes = 8 * 1024 * 1024;
const slowReaderPauseMs = 2;
/** Smaller than the relay's read buffer and the client's high-water mark: queued writes stay "not full". */
const trickleChunkBytes = 1_000;
const stalledReaderMs = 1_500;
const testTimeoutMs = 30_000;

type ContainerBehaviour = (socket: Socket) => void;

let behaviour: ContainerBehaviour = () => {};
let container: Server;
let containerPort: number;
const containerSockets = new Set<Socket>();
let proxy: ProxyHarness;
let cookie: string;

/** Byte i of a flood is (i * 31 + i >> 13) mod 251: any lost, repeated or overwritten span shows. */
function pattern(offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const n = offset + i;
    bytes[i] = (n * 31 + (n >> 13)) % 251;
  }
  return bytes;
}

function firstMismatch(received: Buffer): number {
  const expected = pattern(0, received.length);
  for (let i = 0; i < received.length; i++) if (received[i] !== expected[i]) return i;
  return -1;
}

/** Reads the upgrade request head, answers 101, then hands the socket (and any early bytes) over. */
function acceptUpgrade(socket: Socket, then: (socket: Socket, early: Buffer) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.off('data', onData);
    socket.pause();
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    then(socket, head.subarray(end + 4));
  };
  socket.on('data', onData);
}

/**
 * A raw client through the proxy: sends the upgrade (and `sendAlong` in the same write, as a
 * client that does not wait for the 101 would), resolves once the 101 head has arrived.
 */
async function openTunnel(sendAlong?: (socket: Socket) => void): Promise<{ socket: Socket; early: Buffer }> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  await once(socket, 'connect');
  socket.cork();
  socket.write(
    `GET /cs/alpha/ws HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nCookie: ${cookie}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  sendAlong?.(socket);
  socket.uncork();
  let head = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) continue;
    expect(head.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
    socket.pause();
    return { socket, early: head.subarray(end + 4) };
  }
}

/** Collects `bytes` bytes, optionally pausing between chunks like a slow client. */
function collect(socket: Socket, early: Buffer, bytes: number, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [early];
    let received = early.length;
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${received} of ${bytes} bytes`)));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= bytes) {
        socket.removeAllListeners('close');
        resolve(Buffer.concat(chunks));
        return;
      }
      if (pauseMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
    });
    socket.resume();
  });
}

/** Writes the flood in small separate writes, one per event-loop turn, so the proxy reads them one by one. */
async function trickle(socket: Socket): Promise<void> {
  for (let offset = 0; offset < floodBytes; offset += trickleChunkBytes) {
    const length = Math.min(trickleChunkBytes, floodBytes - offset);
    if (!socket.write(pattern(offset, length))) await once(socket, 'drain');
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Writes the flood in uneven chunks, waiting for drain like a well-behaved sender. */
async function flood(socket: Socket): Promise<void> {
  const chunkSizes = [1, 7, 4_093, readBufferBytes + 1, 65_536, 100_003];
  let offset = 0;
  for (let i = 0; offset < floodBytes; i++) {
    const length = Math.min(chunkSizes[i % chunkSizes.length]!, floodBytes - offset);
    if (!socket.write(pattern(offset, length))) await once(socket, 'drain');
    offset += length;
  }
}

beforeAll(async () => {
  container = createServer((socket) => {
    containerSockets.add(socket);
    socket.on('close', () => containerSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    behaviour(socket);
  });
  await new Promise<void>((resolve) => container.listen(0, '127.0.0.1', resolve));
  containerPort = (container.address() as AddressInfo).port;
  proxy = await startProxy();
  proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: containerPort }));
  const token = await proxy.token({ user: 'alice', codespace: 'alpha' });
  cookie = cookiePair((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).setCookies[0]!);
});

afterAll(async () => {
  await proxy.close();
  for (const socket of containerSockets) socket.destroy();
  await new Promise<void>((resolve) => container.close(() => resolve()));
});

describe('node proxy: WebSocket relay', () => {
  it(
    'delivers a container flood intact and in order to a client that reads slowly',
    async () => {
      behaviour = (socket) => acceptUpgrade(socket, (s) => void flood(s));
      const { socket, early } = await openTunnel();
      const received = await collect(socket, early, floodBytes, slowReaderPauseMs);
      expect(received.length).toBe(floodBytes);
      expect(firstMismatch(received)).toBe(-1);
      socket.destroy();
    },
    testTimeoutMs,
  );

  it(
    'delivers small container writes intact to a client that stops reading until the buffers fill',
    async () => {
      behaviour = (socket) => acceptUpgrade(socket, (s) => void trickle(s));
      const { socket, early } = await openTunnel();
      await new Promise((resolve) => setTimeout(resolve, stalledReaderMs));
      const received = await collect(socket, early, floodBytes, 0);
      expect(received.length).toBe(floodBytes);
      expect(firstMismatch(received)).toBe(-1);
      socket.destroy();
    },
    testTimeoutMs,
  );

  it(
    'delivers a client flood intact and in order to a container that reads slowly',
    async () => {
      const arrived = new Promise<Buffer>((resolve, reject) => {
        behaviour = (socket) =>
          acceptUpgrade(socket, (s, early) =>
            collect(s, early, floodBytes, slowReaderPauseMs).then(resolve, reject),
          );
      });
      const { socket } = await openTunnel();
      await flood(socket);
      const received = await arrived;
      expect(received.length).toBe(floodBytes);
      expect(firstMismatch(received)).toBe(-1);
      socket.destroy();
    },
    testTimeoutMs,
  );

  it(
    'delivers small client writes intact to a container that stops reading until the buffers fill',
    async () => {
      let containerLeg: Socket | undefined;
      const ready = new Promise<Buffer>((resolve) => {
        behaviour = (socket) =>
          acceptUpgrade(socket, (s, early) => {
            containerLeg = s;
            resolve(early);
          });
      });
      const { socket } = await openTunnel();
      const early = await ready;
      const sent = trickle(socket);
      await new Promise((resolve) => setTimeout(resolve, stalledReaderMs));
      const received = await collect(containerLeg!, early, floodBytes, 0);
      await sent;
      expect(received.length).toBe(floodBytes);
      expect(firstMismatch(received)).toBe(-1);
      socket.destroy();
    },
    testTimeoutMs,
  );

  it('forwards client bytes sent with and right behind the upgrade request, first and in order', async () => {
    const burstBytes = 200_000;
    const arrived = new Promise<Buffer>((resolve, reject) => {
      behaviour = (socket) =>
        acceptUpgrade(socket, (s, early) => collect(s, early, burstBytes, 0).then(resolve, reject));
    });
    const { socket } = await openTunnel((s) => {
      s.write(pattern(0, 10));
      s.write(pattern(10, burstBytes - 10));
    });
    const received = await arrived;
    expect(received.length).toBe(burstBytes);
    expect(firstMismatch(received)).toBe(-1);
    socket.destroy();
  });

  it('passes a client half-close on to the container', async () => {
    const containerSaw = new Promise<string>((resolve) => {
      behaviour = (socket) =>
        acceptUpgrade(socket, (s, early) => {
          const chunks: Buffer[] = [early];
          s.on('data', (chunk: Buffer) => chunks.push(chunk));
          s.on('end', () => {
            resolve(Buffer.concat(chunks).toString());
            s.end();
          });
          s.resume();
        });
    });
    const { socket } = await openTunnel();
    socket.end('goodbye');
    expect(await containerSaw).toBe('goodbye');
    socket.resume();
    await once(socket, 'close');
  });

  it('passes a container half-close on to the client and then closes both legs', async () => {
    behaviour = (socket) =>
      acceptUpgrade(socket, (s) => {
        s.end('last words');
      });
    const { socket, early } = await openTunnel();
    const chunks: Buffer[] = [early];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    await once(socket, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('last words');
    socket.end();
    await once(socket, 'close');
  });

  it('closes the container connection when the client vanishes', async () => {
    const containerClosed = new Promise<Socket>((resolve) => {
      behaviour = (socket) =>
        acceptUpgrade(socket, (s) => {
          s.resume();
          s.on('close', () => resolve(s));
        });
    });
    const { socket } = await openTunnel();
    socket.destroy();
    const upstreamLeg = await containerClosed;
    expect(upstreamLeg.destroyed).toBe(true);
  });
});
