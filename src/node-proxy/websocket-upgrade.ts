import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { serializeHeaders, upstreamRequestHeaders, type ForwardContext } from './header-policy.js';
import { upstreamHost } from './upstream-http.js';

/** A container that accepts no connection within this time is treated as refusing. */
export const upstreamConnectTimeoutMs = 5_000;

export interface TunnelOptions {
  hostPort: number;
  path: string;
  context: ForwardContext;
  /** Called with every client→server chunk (before it is written upstream); must be cheap. */
  onClientBytes: (chunk: Buffer) => void;
  /** The container refused or vanished before the tunnel was up: answer the client. */
  onConnectFailure: (error: Error) => void;
}

/**
 * Tunnels an authorised WebSocket upgrade to the container as bytes: the upgrade request goes
 * up with filtered headers (Host stays the public host and X-Forwarded-Host says so, which is
 * what code-server compares Origin with), then both directions are piped without decoding
 * frames. Any error or close on one side destroys the other; nothing throws when a client vanishes.
 */
export function tunnelWebSocket(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  options: TunnelOptions,
): void {
  const headers = upstreamRequestHeaders(req.rawHeaders, options.context);
  // No permessage-deflate on this leg: with a shared deflate context a keystroke (51 bytes) and a
  // keep-alive (13 bytes) both shrink to 4-14 bytes on the wire, and the activity meter, which
  // never inflates, could no longer tell them apart (measured; docs/node-proxy.md).
  delete headers['sec-websocket-extensions'];
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? 'websocket';
  const requestHead = `${req.method ?? 'GET'} ${options.path} HTTP/1.1\r\n${serializeHeaders(headers)}\r\n`;

  const upstream: Socket = connect({ host: upstreamHost, port: options.hostPort });
  let connected = false;
  upstream.setTimeout(upstreamConnectTimeoutMs, () =>
    upstream.destroy(new Error('upstream connect timeout')),
  );

  const teardown = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', teardown);
  client.on('close', teardown);
  upstream.on('error', (error) => {
    if (!connected) options.onConnectFailure(error);
    else teardown();
  });
  upstream.on('close', () => {
    if (connected) teardown();
  });

  upstream.on('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    upstream.setNoDelay(true);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    upstream.write(requestHead);
    if (head.length > 0) {
      options.onClientBytes(head);
      upstream.write(head);
    }
    client.on('data', options.onClientBytes);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}
