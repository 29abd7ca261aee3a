import { connect, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChunkedDecoder } from './chunked-decoder.js';
import { DirectWriter } from './direct-writer.js';
import { downstreamResponseHeaders, upstreamRequestHeaderLines } from './header-policy.js';
import { sendAnswer } from './pages.js';
import { parseResponseHead, type BodyFraming, type ResponseHead } from './response-head.js';
import {
  upstreamHost,
  upstreamIdleSocketTimeoutMs,
  upstreamMaxSocketsPerContainer,
  type ForwardOptions,
  type HttpForwarder,
} from './upstream-http.js';

/**
 * Requests waiting for a connection to a container that already has
 * `upstreamMaxSocketsPerContainer` in use; beyond this they are answered 502 at once.
 */
export const upstreamMaxQueuedRequestsPerContainer = 1_024;

/**
 * The lean forwarder (default): a pool of raw keep-alive TCP connections per container port.
 * The request head is written as one string; the response head is parsed strictly
 * (response-head.ts) and its body framed by Content-Length, chunked (chunked-decoder.ts) or
 * close, then streamed to the client's ServerResponse. Client requests are still parsed by
 * Node's llhttp server. Compared with http.request it skips the Agent, ClientRequest, the
 * client-side parser and IncomingMessage per request (measured in docs/benchmarks.md).
 *
 * Isolation between clients: a connection carries one exchange at a time and goes back to the
 * pool only after a response that ended exactly where its framing said, with no stray byte
 * after it; anything else (a client gone mid-answer, a malformed or over-long answer, extra
 * bytes, `Connection: close`) destroys it.
 */
export function createRawForwarder(): HttpForwarder {
  const pools = new Map<number, ContainerPool>();
  return {
    forward(req, res, options) {
      let pool = pools.get(options.hostPort);
      if (pool === undefined) {
        pool = new ContainerPool(options.hostPort);
        pools.set(options.hostPort, pool);
      }
      pool.dispatch(new Exchange(req, res, options));
    },
    close() {
      for (const pool of pools.values()) pool.destroy();
      pools.clear();
    },
  };
}

/** One request and its answer, from the head written upstream to the last byte sent down. */
class Exchange {
  readonly method: string;
  readonly hasBody: boolean;
  readonly chunkedBody: boolean;
  finished = false;
  /** Bytes of the answer seen: a reused connection that closes before any may be retried. */
  receivedBytes = 0;
  retried = false;
  /** Sent on a pooled connection that had served an earlier request. */
  reusedConnection = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly options: ForwardOptions,
  ) {
    this.method = req.method ?? 'GET';
    this.chunkedBody = req.headers['transfer-encoding'] !== undefined;
    this.hasBody = this.chunkedBody || req.headers['content-length'] !== undefined;
  }

  head(): string {
    const framing = this.chunkedBody ? 'transfer-encoding: chunked\r\n' : '';
    const lines = upstreamRequestHeaderLines(this.req.rawHeaders, this.options.context);
    return `${this.method} ${this.options.path} HTTP/1.1\r\n${lines}${framing}\r\n`;
  }

  /** The container could not answer: a 502 page if nothing was sent yet, else cut the client off. */
  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    const { res } = this;
    if (!res.headersSent) sendAnswer(res, 'bad-gateway', this.req.headers.accept);
    else res.destroy();
    this.options.onError(error, this.options.codespace);
  }
}

/** How often idle pooled connections are checked against `upstreamIdleSocketTimeoutMs`. */
export const upstreamIdleSweepIntervalMs = 1_000;

class ContainerPool {
  /** Idle connections, most recently used last (reused first: LIFO keeps the hot ones warm). */
  private readonly idle: UpstreamConnection[] = [];
  private readonly waiting: Exchange[] = [];
  private open = 0;
  private destroyed = false;
  /**
   * One interval per container while it has idle connections, instead of arming and clearing
   * a socket timer on every request.
   */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(readonly port: number) {}

  dispatch(exchange: Exchange): void {
    if (exchange.res.destroyed) return;
    const connection = this.idle.pop();
    if (connection !== undefined) {
      connection.start(exchange, true);
      return;
    }
    if (this.open < upstreamMaxSocketsPerContainer) {
      this.open++;
      new UpstreamConnection(this).start(exchange, false);
      return;
    }
    if (this.waiting.length >= upstreamMaxQueuedRequestsPerContainer) {
      exchange.fail(new Error('too many requests waiting for this container'));
      return;
    }
    this.waiting.push(exchange);
  }

  /** A connection finished an exchange cleanly: next waiting request, else the idle list. */
  release(connection: UpstreamConnection): void {
    if (this.destroyed) {
      connection.socket.destroy();
      return;
    }
    const next = this.nextWaiting();
    if (next !== undefined) {
      connection.start(next, true);
      return;
    }
    connection.idleSinceMs = Date.now();
    this.idle.push(connection);
    this.sweeper ??= setInterval(this.sweep, upstreamIdleSweepIntervalMs).unref();
  }

  /**
   * Closes idle connections before `upstreamIdleSocketTimeoutMs`: with a sweep every
   * `upstreamIdleSweepIntervalMs`, a connection goes between 3 and 4 s idle, never as late as
   * code-server's own 5 s keep-alive, when a request could cross its close on the wire.
   */
  private readonly sweep = (): void => {
    const oldestAllowedMs = Date.now() - (upstreamIdleSocketTimeoutMs - upstreamIdleSweepIntervalMs);
    // Oldest first: the list is in release order.
    while (this.idle.length > 0 && this.idle[0]!.idleSinceMs <= oldestAllowedMs) {
      this.idle.shift()!.socket.destroy();
    }
    if (this.idle.length === 0) this.stopSweeping();
  };

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** A connection closed (for whatever reason): forget it and let a waiting request open another. */
  closed(connection: UpstreamConnection): void {
    this.open--;
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
    const next = this.nextWaiting();
    if (next !== undefined) this.dispatch(next);
  }

  destroy(): void {
    this.destroyed = true;
    this.stopSweeping();
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
    for (const exchange of this.waiting.splice(0)) exchange.fail(new Error('proxy closing'));
  }

  private nextWaiting(): Exchange | undefined {
    for (;;) {
      const next = this.waiting.shift();
      if (next === undefined || !next.res.destroyed) return next;
    }
  }
}

const enum Phase {
  Idle,
  Head,
  Body,
}

/**
 * Size of the buffer each pooled connection reads the container's answers into. A small answer
 * (head and body) fits in one read; larger ones take more reads.
 */
export const upstreamResponseReadBufferBytes = 16_384;

/**
 * One keep-alive TCP connection to a container; its handlers are bound once, not per request.
 * Answers are read with `onread` into the connection's own buffer: no Readable machinery (a
 * push, an emit per read) and no Buffer allocated per read.
 */
class UpstreamConnection {
  readonly socket: Socket;
  /** Writes request heads past the Writable machinery (direct-writer.ts); bodies use `write`. */
  private readonly writer: DirectWriter;
  private exchange: Exchange | undefined;
  private phase = Phase.Idle;
  private framing: BodyFraming = { kind: 'none' };
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private reusable = false;
  /** Head bytes received so far, when the head spans reads (a copy: the read buffer is reused). */
  private partialHead: Buffer | undefined;
  /**
   * Where the next read lands. Dropped (and replaced on the next read) whenever bytes handed to
   * the client may still be queued: a pending write still refers to them.
   */
  private readBuffer: Buffer | undefined;
  /** When it last went back to the pool (Date.now()). */
  idleSinceMs = 0;

  constructor(private readonly pool: ContainerPool) {
    this.socket = connect({
      host: upstreamHost,
      port: pool.port,
      onread: { buffer: this.nextReadBuffer, callback: this.onRead },
    });
    this.socket.setNoDelay(true);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    // Also listens for 'drain'. A direct write that fails destroys the socket with its error.
    this.writer = new DirectWriter(this.socket, this.onUpstreamDrain, this.destroyWith);
  }

  private readonly destroyWith = (error: Error): void => {
    this.socket.destroy(error);
  };

  start(exchange: Exchange, reused: boolean): void {
    this.exchange = exchange;
    exchange.reusedConnection = reused;
    this.phase = Phase.Head;
    this.partialHead = undefined;
    this.decoder = undefined;
    const { req, res } = exchange;
    res.on('close', this.onClientClose);
    // latin1: Node's parser read the client's head as latin1, so this writes the same bytes back.
    this.writer.writeLatin1(exchange.head());
    if (!exchange.hasBody) return;
    req.on('data', this.onRequestData);
    req.on('end', this.onRequestEnd);
  }

  private readonly onRequestData = (chunk: Buffer): void => {
    const exchange = this.exchange;
    // An empty chunk would read as the last one (`0\r\n`) in a chunked body.
    if (exchange === undefined || chunk.length === 0) return;
    let flushed: boolean;
    if (exchange.chunkedBody) {
      this.socket.write(`${chunk.length.toString(16)}\r\n`);
      this.socket.write(chunk);
      flushed = this.socket.write('\r\n');
    } else {
      flushed = this.socket.write(chunk);
    }
    if (!flushed) exchange.req.pause();
  };

  private readonly onRequestEnd = (): void => {
    if (this.exchange?.chunkedBody) this.socket.write('0\r\n\r\n');
  };

  private readonly onUpstreamDrain = (): void => {
    this.exchange?.req.resume();
  };

  private readonly onClientDrain = (): void => {
    this.waitingForClientDrain = false;
    this.socket.resume();
  };

  /** The client's buffer is full: stop reading the container (onRead says so) until it drains. */
  private pauseForClient(res: ServerResponse): void {
    if (this.waitingForClientDrain) return;
    this.waitingForClientDrain = true;
    res.once('drain', this.onClientDrain);
  }

  private waitingForClientDrain = false;

  private readonly nextReadBuffer = (): Buffer =>
    (this.readBuffer ??= Buffer.allocUnsafeSlow(upstreamResponseReadBufferBytes));

  /** Returns false to stop reading until the client drains. */
  private readonly onRead = (bytes: number, buffer: Buffer): boolean => {
    const res = this.exchange?.res;
    this.onData(buffer.subarray(0, bytes));
    // Written to the kernel at once (the common case: `end` uncorks at once) leaves nothing
    // queued and the buffer free for the next read; otherwise a queued write still points into it.
    if (res !== undefined && res.writableLength > 0) this.readBuffer = undefined;
    return !this.waitingForClientDrain;
  };

  private onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === undefined || this.phase === Phase.Idle) {
      // A container talking out of turn on an idle connection: nothing may read it as an answer.
      this.socket.destroy();
      return;
    }
    exchange.receivedBytes += chunk.length;
    let input = chunk;
    let offset = 0;
    if (this.phase === Phase.Head) {
      if (this.partialHead !== undefined) input = Buffer.concat([this.partialHead, chunk]);
      for (;;) {
        const parsed = parseResponseHead(offset === 0 ? input : input.subarray(offset), exchange.method);
        if (parsed.kind === 'incomplete') {
          this.partialHead = Buffer.from(offset === 0 ? input : input.subarray(offset));
          return;
        }
        if (parsed.kind === 'invalid') {
          this.abort(new Error(`container answered badly: ${parsed.reason}`));
          return;
        }
        offset += parsed.headBytes;
        if (parsed.kind === 'interim') continue;
        this.partialHead = undefined;
        if (!this.writeHead(parsed)) return;
        this.framing = parsed.framing;
        this.reusable = parsed.reusable;
        this.remaining = parsed.framing.kind === 'length' ? parsed.framing.bytes : 0;
        if (parsed.framing.kind === 'chunked') this.decoder = new ChunkedDecoder();
        this.phase = Phase.Body;
        break;
      }
    }
    this.onBody(input, offset);
  }

  /** Sends the answer's head down; false (and the connection gone) when Node refuses a header. */
  private writeHead(head: ResponseHead): boolean {
    const exchange = this.exchange!;
    // One Content-Length, ours: a repeated-but-equal one from the container is not passed on,
    // and a chunked or close-delimited body has none (the parser refused the mix).
    const headers = downstreamResponseHeaders(head.rawHeaders, { contentLength: head.contentLength });
    if (exchange.options.extraSetCookie) headers.push('Set-Cookie', exchange.options.extraSetCookie);
    try {
      exchange.res.writeHead(head.status, head.statusMessage, headers);
      return true;
    } catch (error) {
      this.abort(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  private onBody(input: Buffer, offset: number): void {
    const exchange = this.exchange!;
    const { res } = exchange;
    const available = input.length - offset;
    switch (this.framing.kind) {
      case 'none':
        this.finish(available);
        return;
      case 'close':
        if (available > 0 && !res.write(offset === 0 ? input : input.subarray(offset)))
          this.pauseForClient(res);
        return;
      case 'length': {
        const take = Math.min(this.remaining, available);
        this.remaining -= take;
        const body = offset === 0 && take === input.length ? input : input.subarray(offset, offset + take);
        if (this.remaining === 0) {
          this.finish(available - take, body);
          return;
        }
        if (take > 0 && !res.write(body)) this.pauseForClient(res);
        return;
      }
      case 'chunked': {
        let flushed = true;
        const result = this.decoder!.push(input, offset, (data) => {
          if (!res.write(data)) flushed = false;
        });
        if (!result.ok) {
          this.abort(new Error(`container answered badly: ${result.reason}`));
          return;
        }
        if (result.done) {
          this.finish(available - result.consumed);
          return;
        }
        if (!flushed) this.pauseForClient(res);
        return;
      }
    }
  }

  /** The answer is complete: end the client's response; reuse the connection only if clean. */
  private finish(strayBytes: number, lastBody?: Buffer): void {
    const exchange = this.exchange!;
    exchange.finished = true;
    this.detach(exchange);
    if (lastBody !== undefined && lastBody.length > 0) exchange.res.end(lastBody);
    else exchange.res.end();
    // Bytes after the end of an answer are the container speaking out of turn, and a request
    // body still arriving means the container answered early: neither connection is reusable.
    if (strayBytes > 0 || !this.reusable || (exchange.hasBody && !exchange.req.complete)) {
      this.socket.destroy();
      return;
    }
    this.socket.resume();
    this.pool.release(this);
  }

  private detach(exchange: Exchange): void {
    if (this.waitingForClientDrain) {
      this.waitingForClientDrain = false;
      exchange.res.off('drain', this.onClientDrain);
    }
    if (exchange.hasBody) {
      exchange.req.off('data', this.onRequestData);
      exchange.req.off('end', this.onRequestEnd);
    }
    this.exchange = undefined;
    this.phase = Phase.Idle;
  }

  /** The answer cannot be delivered as received: fail the exchange, never reuse the connection. */
  private abort(error: Error): void {
    const exchange = this.exchange;
    this.socket.destroy();
    if (exchange === undefined) return;
    this.detach(exchange);
    exchange.fail(error);
  }

  /**
   * Bound once per connection rather than a closure per request: it may also hear the close of
   * an earlier exchange's response, so it acts only when the current client is gone.
   */
  private readonly onClientClose = (): void => {
    const exchange = this.exchange;
    // The client left before its answer was complete: the rest of it must not reach anyone.
    if (exchange !== undefined && !exchange.finished && exchange.res.destroyed) {
      exchange.finished = true;
      this.detach(exchange);
      this.socket.destroy();
    }
  };

  private readonly onEnd = (): void => {
    const exchange = this.exchange;
    if (exchange !== undefined && this.phase === Phase.Body && this.framing.kind === 'close') {
      this.reusable = false;
      this.finish(0);
    }
  };

  private readonly onError = (error: Error): void => {
    this.connectionLost(error);
  };

  private readonly onClose = (): void => {
    this.connectionLost(new Error('container closed the connection'));
    this.pool.closed(this);
  };

  private connectionLost(error: Error): void {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.detach(exchange);
    // A pooled connection the container had just closed, before any byte of the answer: the
    // request never reached it, so (without a body to replay) it is sent once more on a new one.
    if (exchange.receivedBytes === 0 && !exchange.hasBody && !exchange.retried && exchange.reusedConnection) {
      exchange.retried = true;
      this.pool.dispatch(exchange);
      return;
    }
    exchange.fail(error);
  }
}
