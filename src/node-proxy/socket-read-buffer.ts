import { Socket, type SocketConstructorOpts } from 'node:net';
import type { Duplex } from 'node:stream';

/** Called with each read: the bytes landed at the start of `buffer`; false pauses reading. */
export type ReadCallback = (bytes: number, buffer: Buffer) => boolean;

interface ReadBufferSlots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

interface UserBufferHandle {
  useUserBuffer(buffer: Buffer): void;
  constructor: { name: string };
}

/**
 * The private slots where net.Socket keeps its `onread` option, found on a probe socket built
 * with that option. Node offers `onread` only to sockets it is asked to create; a server's
 * upgraded socket is not one of them, and this is the one way to give it the same read path.
 */
function findReadBufferSlots(): ReadBufferSlots | undefined {
  const options = { onread: { buffer: () => Buffer.alloc(1), callback: () => true } };
  const probe = new Socket(options as SocketConstructorOpts);
  const named = (description: string) =>
    Object.getOwnPropertySymbols(probe).find((symbol) => symbol.description === description);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  probe.destroy();
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
}

const slots = findReadBufferSlots();

/**
 * Switches an open, plain-TCP socket to the `onread` read path, as if it had been created with
 * `{ onread: { buffer, callback: onRead } }`: each read lands at the start of `buffer` and goes
 * to `onRead`, with no Readable push, no 'data' event and no allocation per read. `pause()` and
 * `resume()` keep working (net.Socket stops and starts the handle of such sockets), and 'end'
 * still comes once the socket flows.
 *
 * Returns the bytes the socket had already buffered, which the caller handles first, or
 * undefined, changing nothing, when the socket is not plain TCP (TLS) or this Node keeps its
 * slots elsewhere; the caller then listens for 'data'.
 */
export function adoptReadBuffer(socket: Duplex, buffer: Buffer, onRead: ReadCallback): Buffer[] | undefined {
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (!slots || !(socket instanceof Socket) || !handle) return undefined;
  if (handle.constructor.name !== 'TCP' || typeof handle.useUserBuffer !== 'function') return undefined;
  const buffered: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
    buffered.push(chunk);
  }
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[slots.buffer] = buffer;
  fields[slots.generator] = null;
  fields[slots.callback] = onRead;
  handle.useUserBuffer(buffer);
  return buffered;
}
