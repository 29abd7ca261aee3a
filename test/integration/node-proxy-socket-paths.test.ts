import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectWriter, type WriteOutcome } from '../../src/node-proxy/direct-writer.js';
import { adoptReadBuffer } from '../../src/node-proxy/socket-read-buffer.js';

/**
 * The two socket paths under the WebSocket relay, on real loopback sockets: `DirectWriter`
 * (writes past the Writable machinery) and `adoptReadBuffer` (a server socket switched to the
 * `onread` path). Both lean on net.Socket internals, so these tests pin the behaviour the relay
 * relies on: order, completeness, backpressure and the fallbacks.
 */

/** More than loopback socket buffers hold, so writes must queue. */
const floodBytes = 16 * 1024 * 1024;
const chunkBytes = 64 * 1024;
const testTimeoutMs = 20_000;

let server: Server;
let accepted: Promise<Socket>;
const opened: Socket[] = [];

function numbered(offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (offset + i) % 253;
  return bytes;
}

function isNumbered(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== i % 253) return false;
  return true;
}

/** A connected pair: `client` dialled, `peer` the server's side. */
async function socketPair(): Promise<{ client: Socket; peer: Socket }> {
  accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  await once(client, 'connect');
  const peer = await accepted;
  opened.push(client, peer);
  return { client, peer };
}

/** A writer whose sink must never fail in the test at hand; drains are not watched. */
function writerThatMustNotFail(sink: Socket | PassThrough): DirectWriter {
  return new DirectWriter(
    sink,
    () => {},
    (error) => expect.fail(error.message),
  );
}

function readAll(socket: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= bytes) resolve(Buffer.concat(chunks));
    });
  });
}

beforeEach(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('DirectWriter', () => {
  it('hands a small chunk to an idle TCP socket at once', async () => {
    const { client, peer } = await socketPair();
    const writer = writerThatMustNotFail(client);
    const arrived = readAll(peer, 5);
    expect(writer.write(Buffer.from('hello'))).toBe('written');
    expect((await arrived).toString()).toBe('hello');
  });

  it(
    'reports full once the peer stops reading, drains later, and keeps every byte in order',
    async () => {
      const { client, peer } = await socketPair();
      peer.pause();
      let drains = 0;
      let resume: (() => void) | undefined;
      const writer = new DirectWriter(
        client,
        () => {
          drains += 1;
          resume?.();
        },
        (error) => expect.fail(error.message),
      );
      const outcomes = new Set<WriteOutcome>();
      const arrived = readAll(peer, floodBytes);
      let offset = 0;
      let resumedPeer = false;
      while (offset < floodBytes) {
        const outcome = writer.write(numbered(offset, chunkBytes));
        outcomes.add(outcome);
        offset += chunkBytes;
        if (outcome === 'full') {
          const drained = new Promise<void>((resolve) => (resume = resolve));
          if (!resumedPeer) {
            resumedPeer = true;
            setTimeout(() => peer.resume(), 100);
          }
          await drained;
        }
      }
      const received = await arrived;
      expect(received.length).toBe(floodBytes);
      expect(isNumbered(received)).toBe(true);
      expect(outcomes.has('written')).toBe(true);
      expect(outcomes.has('full')).toBe(true);
      expect(drains).toBeGreaterThan(0);
    },
    testTimeoutMs,
  );

  it('writes a latin1 string as one byte per character, directly or queued', async () => {
    const { client, peer } = await socketPair();
    const writer = writerThatMustNotFail(client);
    const head = 'GET /caf\u00e9 HTTP/1.1\r\n\r\n';
    const arrived = readAll(peer, head.length * 2);
    expect(writer.writeLatin1(head)).toBe('written');
    const sink = new PassThrough();
    expect(writerThatMustNotFail(sink).writeLatin1(head)).toBe('queued');
    expect((sink.read() as Buffer).equals(Buffer.from(head, 'latin1'))).toBe(true);
    expect(writer.writeLatin1(head)).toBe('written');
    const received = await arrived;
    expect(received.length).toBe(head.length * 2);
    expect(received.equals(Buffer.from(head + head, 'latin1'))).toBe(true);
  });

  it('uses the ordinary write path for streams that are not plain TCP', async () => {
    const sink = new PassThrough({ highWaterMark: 8 });
    let drains = 0;
    const writer = new DirectWriter(
      sink,
      () => (drains += 1),
      (error) => expect.fail(error.message),
    );
    expect(writer.write(Buffer.from('abc'))).toBe('queued');
    expect(writer.write(Buffer.from('defghijk'))).toBe('full');
    expect(sink.read()?.toString()).toBe('abcdefghijk');
    await new Promise((resolve) => setImmediate(resolve));
    expect(drains).toBe(1);
  });

  it('copies a borrowed chunk that has to wait in the queue, so the caller may reuse its memory', () => {
    const sink = new PassThrough({ highWaterMark: 1024 });
    const writer = writerThatMustNotFail(sink);
    const reused = Buffer.from('first');
    expect(writer.write(reused, true)).toBe('queued');
    reused.write('XXXXX');
    expect(writer.write(Buffer.from('+own'))).toBe('queued');
    expect(sink.read()?.toString()).toBe('first+own');
  });

  it('queues behind a write still waiting in the socket, so order holds', async () => {
    const { client, peer } = await socketPair();
    peer.pause();
    // An ordinary write too big for the socket buffers leaves bytes queued in the Writable...
    const big = numbered(0, 8 * 1024 * 1024);
    client.write(big);
    expect(client.writableLength).toBeGreaterThan(0);
    const writer = writerThatMustNotFail(client);
    // ...so the next chunk must not jump the queue.
    expect(writer.write(Buffer.from('tail'))).not.toBe('written');
    const arrived = readAll(peer, big.length + 4);
    peer.resume();
    const received = await arrived;
    expect(received.subarray(0, big.length).equals(big)).toBe(true);
    expect(received.subarray(big.length).toString()).toBe('tail');
  });

  it('reports a failed write to a connection the peer reset', async () => {
    // A side that never reads cannot see the reset until it writes.
    const quiet = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => quiet.listen(0, '127.0.0.1', resolve));
    const acceptedQuietly = new Promise<Socket>((resolve) => quiet.once('connection', resolve));
    const dialler = connect({ host: '127.0.0.1', port: (quiet.address() as AddressInfo).port });
    opened.push(dialler);
    await once(dialler, 'connect');
    const silent = await acceptedQuietly;
    opened.push(silent);
    silent.on('error', () => {});
    const errors: Error[] = [];
    const writer = new DirectWriter(
      silent,
      () => {},
      (error) => errors.push(error),
    );
    dialler.resetAndDestroy();
    // The reset reaches the silent side's kernel asynchronously; writes fail once it has.
    let outcome: WriteOutcome = 'written';
    while (outcome === 'written') {
      await new Promise((resolve) => setTimeout(resolve, 5));
      outcome = writer.write(Buffer.from('after reset'));
    }
    expect(outcome).toBe('full');
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/EPIPE|ECONNRESET/)]);
    expect(writer.write(Buffer.from('again'))).toBe('full');
    expect(errors).toHaveLength(1);
    silent.destroy();
    await new Promise<void>((resolve) => quiet.close(() => resolve()));
  });
});

describe('adoptReadBuffer', () => {
  it('delivers reads into the buffers it is given and hands back what arrived before', async () => {
    const { client, peer } = await socketPair();
    client.write('early');
    while (peer.readableLength === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const buffer = Buffer.alloc(1024);
    const seen: string[] = [];
    const buffered = adoptReadBuffer(peer, buffer, (bytes, into) => {
      expect(into).toBe(buffer);
      seen.push(into.toString('latin1', 0, bytes));
      return true;
    });
    expect(buffered?.map((chunk) => chunk.toString())).toEqual(['early']);
    peer.resume();
    client.write('later');
    while (seen.join('') !== 'later') await new Promise((resolve) => setTimeout(resolve, 5));
    client.end();
    await once(peer, 'end');
  });

  it(
    'pauses when the callback says so and resumes on resume(), time after time',
    async () => {
      const { client, peer } = await socketPair();
      const chunks: Buffer[] = [];
      let pauses = 0;
      const buffered = adoptReadBuffer(peer, Buffer.allocUnsafe(4096), (bytes, into) => {
        chunks.push(Buffer.from(into.subarray(0, bytes)));
        pauses += 1;
        setTimeout(() => peer.resume(), 1);
        return false;
      });
      expect(buffered).toEqual([]);
      peer.resume();
      const total = 256 * 1024;
      client.end(numbered(0, total));
      await once(peer, 'end');
      const received = Buffer.concat(chunks);
      expect(received.length).toBe(total);
      expect(isNumbered(received)).toBe(true);
      expect(pauses).toBeGreaterThan(10);
    },
    testTimeoutMs,
  );

  it('leaves streams that are not plain TCP sockets alone', () => {
    const stream = new PassThrough();
    expect(adoptReadBuffer(stream, Buffer.alloc(16), () => true)).toBeUndefined();
    stream.end('still readable');
    expect(stream.read()?.toString()).toBe('still readable');
  });
});
