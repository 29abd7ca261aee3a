import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { downstreamResponseHeaders, upstreamRequestHeaders, type ForwardContext } from './header-policy.js';
import { sendAnswer } from './pages.js';

/** Containers listen on loopback only; the proxy never connects anywhere else. */
export const upstreamHost = '127.0.0.1';
export const upstreamMaxSocketsPerContainer = 64;
/**
 * As many idle sockets kept as may be open: with fewer, a burst of more than that many
 * concurrent requests closes the surplus sockets on completion and reconnects on the next
 * burst — measured (bench/proxy, 32 connections) as a TCP connect and close per request for
 * part of the traffic, raising both the proxy's and the container's CPU per request. Idle ones
 * still close after `upstreamIdleSocketTimeoutMs`.
 */
export const upstreamMaxFreeSocketsPerContainer = upstreamMaxSocketsPerContainer;
/** Idle pooled connections are closed before code-server's own keep-alive timeout (5 s) would race us. */
export const upstreamIdleSocketTimeoutMs = 4_000;

export function createUpstreamAgent(): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: upstreamMaxSocketsPerContainer,
    maxFreeSockets: upstreamMaxFreeSocketsPerContainer,
    timeout: upstreamIdleSocketTimeoutMs,
    scheduling: 'lifo',
  });
}

export interface ForwardOptions {
  codespace: string;
  hostPort: number;
  path: string;
  /** Who and where the client is: each forwarder builds the container's headers from it and `req.rawHeaders`. */
  context: ForwardContext;
  /** A refreshed session cookie to add to the container's answer. */
  extraSetCookie: string | undefined;
  /** One function per proxy (not a closure per request), told which codespace failed. */
  onError: (error: Error, codespace: string) => void;
}

/**
 * Streams one request to a container and its answer back, with a pooled keep-alive
 * connection (plain node:http: @fastify/reply-from cost 4.3× the upstream's CPU here, over
 * the 2.5× budget). A refused connection answers 502; a client that goes away aborts the
 * upstream request.
 */
export function forwardHttp(
  req: IncomingMessage,
  res: ServerResponse,
  options: ForwardOptions & { agent: Agent },
): void {
  const upstream = request({
    host: upstreamHost,
    port: options.hostPort,
    method: req.method,
    path: options.path,
    headers: upstreamRequestHeaders(req.rawHeaders, options.context),
    agent: options.agent,
  });
  upstream.on('response', (answer) => {
    const headers = downstreamResponseHeaders(answer.rawHeaders);
    if (options.extraSetCookie) headers.push('Set-Cookie', options.extraSetCookie);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (error) => {
    if (!res.headersSent) sendAnswer(res, 'bad-gateway', req.headers.accept);
    else res.destroy();
    options.onError(error, options.codespace);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  // Most requests (GET, HEAD) have no body: end at once instead of setting up a pipe.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    upstream.end();
  } else {
    req.pipe(upstream);
  }
}

/** Forwards authenticated HTTP requests to containers; one per proxy server. */
export interface HttpForwarder {
  forward(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): void;
  close(): void;
}

export function createNativeForwarder(): HttpForwarder {
  const agent = createUpstreamAgent();
  return {
    forward: (req, res, options) => forwardHttp(req, res, { ...options, agent }),
    close: () => agent.destroy(),
  };
}
