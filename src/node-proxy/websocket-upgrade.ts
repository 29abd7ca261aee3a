import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { serializeHeaders, upstreamRequestHeaders, type ForwardContext } from './header-policy.js';
import { upstreamHost } from './upstream-http.js';

/** A container that accepts no connection within this time is treated as refusing. */
export const upstreamConnectTimeoutMs = 5_000;
/**
 * Size of the buffer each tunnel reads container→client bytes into. Only pages a read touches
 * become resident, so an idle tunnel costs about one page of it; larger bursts take more reads.
 */
export const upstreamReadBufferBytes = 16_384;

export interface TunnelOptions {
  hostPort: number;
  path: string;
  context: ForwardContext;
  /** Called with every client→server chunk (before it is written upstream); must be cheap. */
  onClientBytes: (chunk: Buffer) => void;
  /** The container refused or vanished before the tunnel was up: answer the client. */
  onConnectFailure: (error: Error) => void;
}

/** The raw upgrade request the container receives. */
export function upstreamUpgradeHead(req: IncomingMessage, path: string, context: ForwardContext): string {
  const headers = upstreamRequestHeaders(req.rawHeaders, context);
  // No permessage-deflate on this leg: with a shared deflate context a keystroke (51 bytes) and a
  // keep-alive (13 bytes) both shrink to 4-14 bytes on the wire, and the activity meter, which
  // never inflates, could no longer tell them apart (measured; docs/node-proxy.md).
  delete headers['sec-websocket-extensions'];
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? 'websocket';
  return `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n${serializeHeaders(headers)}\r\n`;
}

/**
 * Tunnels an authorised WebSocket upgrade to the container as bytes: the upgrade request goes
 * up with filtered headers (Host stays the public host and X-Forwarded-Host says so, which is
 * what code-server compares Origin with), then both directions are relayed without decoding
 * frames. Any error or close on one side destroys the other; nothing throws when a client vanishes.
 */
export function tunnelWebSocket(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  options: TunnelOptions,
): void {
  new WebSocketTunnel(client, head, upstreamUpgradeHead(req, options.path, options.context), options);
}

/**
 * One tunnel's relay, written for the per-message cost (issue 4: ≤ 1.3× the echo server's CPU):
 * - container→client bytes are read with `onread` into the tunnel's own buffer, skipping the
 *   Readable machinery (a push, an emit and a nextTick per chunk) and an allocation per read;
 * - client→container bytes go from one `data` listener straight to `write`, which also feeds
 *   the activity meter (no second listener, no stream.pipe bookkeeping);
 * - backpressure both ways: a sink whose buffer is full pauses its source until `drain`.
 * All handlers are bound once per tunnel; nothing allocates a closure per chunk.
 */
class WebSocketTunnel {
  private readonly upstream: Socket;
  private connected = false;
  /**
   * Where the next container read lands. Dropped (and replaced on the next read) whenever a
   * write to the client could not finish at once: the pending write still refers to it.
   */
  private readBuffer: Buffer | undefined;

  constructor(
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly requestHead: string,
    private readonly options: TunnelOptions,
  ) {
    this.upstream = connect({
      host: upstreamHost,
      port: options.hostPort,
      onread: { buffer: this.nextReadBuffer, callback: this.onUpstreamRead },
    });
    this.upstream.setTimeout(upstreamConnectTimeoutMs, this.onConnectTimeout);
    client.on('error', this.teardown);
    client.on('close', this.teardown);
    this.upstream.on('error', this.onUpstreamError);
    this.upstream.on('close', this.onUpstreamClose);
    this.upstream.on('connect', this.onConnect);
  }

  private readonly onConnect = (): void => {
    const { upstream, client } = this;
    this.connected = true;
    upstream.setTimeout(0);
    upstream.setNoDelay(true);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    // latin1: Node's parser read the client's head as latin1, so this writes the same bytes back.
    upstream.write(this.requestHead, 'latin1');
    if (this.head.length > 0) this.onClientData(this.head);
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    upstream.on('end', this.onUpstreamEnd);
    client.on('drain', this.onClientDrain);
    upstream.on('drain', this.onUpstreamDrain);
  };

  private readonly onClientData = (chunk: Buffer): void => {
    this.options.onClientBytes(chunk);
    if (!this.upstream.write(chunk)) this.client.pause();
  };

  private readonly nextReadBuffer = (): Buffer =>
    (this.readBuffer ??= Buffer.allocUnsafeSlow(upstreamReadBufferBytes));

  private readonly onUpstreamRead = (bytes: number, buffer: Buffer): boolean => {
    const { client } = this;
    if (client.destroyed) return false;
    const flushed = client.write(buffer.subarray(0, bytes));
    // Written to the kernel at once (the common case) leaves nothing queued, and the buffer is
    // free for the next read; otherwise the queued write still points into it.
    if (client.writableLength > 0) this.readBuffer = undefined;
    // false pauses container reads until the client drains.
    return flushed;
  };

  private readonly onClientDrain = (): void => {
    this.upstream.resume();
  };

  private readonly onUpstreamDrain = (): void => {
    this.client.resume();
  };

  private readonly onClientEnd = (): void => {
    this.upstream.end();
  };

  private readonly onUpstreamEnd = (): void => {
    this.client.end();
  };

  private readonly onConnectTimeout = (): void => {
    this.upstream.destroy(new Error('upstream connect timeout'));
  };

  private readonly onUpstreamError = (error: Error): void => {
    if (!this.connected) this.options.onConnectFailure(error);
    else this.teardown();
  };

  private readonly onUpstreamClose = (): void => {
    if (this.connected) this.teardown();
  };

  private readonly teardown = (): void => {
    this.client.destroy();
    this.upstream.destroy();
  };
}
