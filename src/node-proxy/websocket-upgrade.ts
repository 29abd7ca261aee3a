import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { serializeHeaders, upstreamRequestHeaders, type ForwardContext } from './header-policy.js';
import { DirectWriter } from './direct-writer.js';
import { adoptReadBuffer } from './socket-read-buffer.js';
import { upstreamHost } from './upstream-http.js';

/** A container that accepts no connection within this time is treated as refusing. */
export const upstreamConnectTimeoutMs = 5_000;
/**
 * Size of the two buffers each tunnel reads into, one per direction. Only pages a read touches
 * become resident, so an idle tunnel costs about a page of each; larger bursts take more reads.
 */
export const readBufferBytes = 16_384;

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
 * One tunnel's relay, written for the per-message cost (issue 4: ≤ 1.3× the echo server's CPU).
 * Each leg reads into the tunnel's own buffer through the `onread` path (the client socket is
 * switched to it by `adoptReadBuffer`) and writes through a `DirectWriter`, so a message costs
 * one read and one write per leg with no Readable or Writable bookkeeping, no allocation per
 * read and no nextTick. Each direction reads into one buffer for the tunnel's life: a write that
 * cannot finish pauses its source until the sink drains, so nothing reads into memory a pending
 * write still points at, and a chunk that must queue while reading goes on is copied first.
 * All handlers are bound once per tunnel; nothing allocates a closure per chunk. Any error or
 * close on one side destroys the other; nothing throws when a client vanishes.
 */
class WebSocketTunnel {
  private readonly upstream: Socket;
  private readonly toUpstream: DirectWriter;
  private readonly toClient: DirectWriter;
  private connected = false;
  /** Where every container→client read lands. */
  private readonly upstreamReadBuffer = Buffer.allocUnsafeSlow(readBufferBytes);
  /** Where every client→container read lands (when the client socket takes the `onread` path). */
  private readonly clientReadBuffer = Buffer.allocUnsafeSlow(readBufferBytes);

  constructor(
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly requestHead: string,
    private readonly options: TunnelOptions,
  ) {
    this.upstream = connect({
      host: upstreamHost,
      port: options.hostPort,
      onread: { buffer: this.upstreamReadBuffer, callback: this.onUpstreamRead },
    });
    this.toUpstream = new DirectWriter(this.upstream, this.resumeClient, this.teardown);
    this.toClient = new DirectWriter(client, this.resumeUpstream, this.teardown);
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
    client.on('end', this.onClientEnd);
    upstream.on('end', this.onUpstreamEnd);
    this.startClientReads();
  };

  /** Forwards the upgrade head's trailing bytes and what arrived since, then starts the client leg. */
  private startClientReads(): void {
    const { client } = this;
    let keepReading = this.head.length === 0 || this.forwardClientChunk(this.head);
    const buffered = adoptReadBuffer(client, this.clientReadBuffer, this.onClientRead);
    if (buffered === undefined) client.on('data', this.onClientData);
    else for (const chunk of buffered) keepReading = this.forwardClientChunk(chunk) && keepReading;
    if (keepReading) client.resume();
    else client.pause();
  }

  /** A client chunk in a Buffer of its own; false when the container is full. */
  private forwardClientChunk(chunk: Buffer): boolean {
    this.options.onClientBytes(chunk);
    return this.toUpstream.write(chunk) !== 'full';
  }

  private readonly onClientData = (chunk: Buffer): void => {
    if (!this.forwardClientChunk(chunk)) this.client.pause();
  };

  /** false pauses client reads until the container drains, which also keeps the buffer unread-into. */
  private readonly onClientRead = (bytes: number, buffer: Buffer): boolean => {
    if (this.upstream.destroyed) return false;
    const chunk = buffer.subarray(0, bytes);
    this.options.onClientBytes(chunk);
    return this.toUpstream.write(chunk, true) !== 'full';
  };

  private readonly onUpstreamRead = (bytes: number, buffer: Buffer): boolean => {
    if (this.client.destroyed) return false;
    return this.toClient.write(buffer.subarray(0, bytes), true) !== 'full';
  };

  private readonly resumeClient = (): void => {
    this.client.resume();
  };

  private readonly resumeUpstream = (): void => {
    this.upstream.resume();
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
