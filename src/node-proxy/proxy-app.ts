import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import type { ActivityTracker } from './activity-tracker.js';
import { Authenticator } from './authenticator.js';
import type { ProxyConfig } from './config.js';
import type { CookiePolicy } from './cookies.js';
import { ClientFrameMeter, type FrameObserver } from './frame-meter.js';
import type { ForwardContext } from './header-policy.js';
import { redirect, refuseUpgrade, sendAnswer } from './pages.js';
import type { Route, RouteTable } from './route-table.js';
import { resolveTarget, takeToken, type RoutingOptions } from './routing.js';
import { SessionCodec, type Session } from './session.js';
import { createReplyFromForwarder } from './reply-from-forwarder.js';
import { createNativeForwarder, type HttpForwarder } from './upstream-http.js';
import { createRawForwarder } from './upstream-raw.js';
import { tunnelWebSocket } from './websocket-upgrade.js';

/** Header bounds: a request head larger than this is refused by Node's parser (431). */
export const maxRequestHeaderBytes = 16_384;
/** Idle client keep-alive connections close after this. */
export const clientKeepAliveTimeoutMs = 65_000;
/** A client must finish sending its request head within this (slowloris). */
export const clientHeadersTimeoutMs = 20_000;

export interface ProxyLogger {
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

export interface ProxyAppOptions {
  config: Pick<
    ProxyConfig,
    | 'nodeName'
    | 'fleet'
    | 'routingMode'
    | 'nodeDomain'
    | 'secureCookies'
    | 'sessionTtlSeconds'
    | 'activityMinFrameBytes'
  > &
    Partial<Pick<ProxyConfig, 'forwarder'>>;
  routes: RouteTable;
  keys: JSONWebKeySet | JWTVerifyGetKey;
  sessionSecret: Buffer;
  activity: ActivityTracker;
  log?: ProxyLogger;
  nowMs?: () => number;
  /** PEM cert and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Sees every client→server WebSocket frame header (measuring keep-alives; off in production). */
  onClientFrame?: (codespace: string, frame: Parameters<FrameObserver>[0]) => void;
}

const silentLog: ProxyLogger = { warn: () => {}, debug: () => {} };

type Authorised =
  | { ok: true; route: Route; session: Session | undefined; user: string }
  | { ok: false; answer: 'unauthenticated' | 'not-found' };

/**
 * The node proxy as a plain Node HTTP(S) server: routes `{codespace}.{nodeDomain}` or
 * `/cs/{codespace}/` to the codespace's container on 127.0.0.1, authenticating each request
 * with the proxy's session cookie (after a one-time access-token exchange), and tunnels
 * WebSocket upgrades as bytes. Start it with `server.listen()`; `main.ts` adds process wiring.
 */
export function createProxyServer(options: ProxyAppOptions): Server {
  const { config, routes, activity } = options;
  const log = options.log ?? silentLog;
  const nowMs = options.nowMs ?? Date.now;
  const routing: RoutingOptions = { mode: config.routingMode, nodeDomain: config.nodeDomain };
  const cookiePolicy: CookiePolicy = { mode: config.routingMode, secure: config.secureCookies };
  const proto = config.secureCookies ? 'https' : 'http';
  const auth = new Authenticator({
    nodeName: config.nodeName,
    fleet: config.fleet,
    keys: options.keys,
    sessions: new SessionCodec(options.sessionSecret),
    cookiePolicy,
    sessionTtlSeconds: config.sessionTtlSeconds,
  });
  const forwarder: HttpForwarder =
    config.forwarder === 'reply-from'
      ? createReplyFromForwarder()
      : config.forwarder === 'native'
        ? createNativeForwarder()
        : createRawForwarder();

  /**
   * Authenticated by cookie, then authorised against the route: another user's codespace is the
   * same 404 as none (one page for both, so it says what a stopped codespace's owner needs to know).
   */
  function authorise(req: IncomingMessage, codespace: string, now: number): Authorised {
    const session = auth.sessionFor(req.headers.cookie, codespace, now);
    if (!session) return { ok: false, answer: 'unauthenticated' };
    const route = routes.routeFor(codespace);
    if (!route || route.owner !== session.user) return { ok: false, answer: 'not-found' };
    return { ok: true, route, session, user: session.user };
  }

  async function authoriseByToken(token: string, codespace: string): Promise<Authorised> {
    const user = await auth.userFromToken(token, codespace);
    if (user === undefined) return { ok: false, answer: 'unauthenticated' };
    const route = routes.routeFor(codespace);
    if (!route || route.owner !== user) return { ok: false, answer: 'not-found' };
    return { ok: true, route, session: undefined, user };
  }

  function forwardContext(req: IncomingMessage, publicPrefix: string): ForwardContext {
    return {
      clientAddress: req.socket.remoteAddress ?? '',
      proto,
      publicHost: req.headers.host ?? '',
      publicPrefix,
    };
  }

  /** One function for every forwarded request, so the hot path creates no closure for it. */
  const onUpstreamError = (error: Error, codespace: string): void =>
    log.debug({ codespace, err: error }, 'upstream request failed');

  const onRequestFailed = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    log.warn({ err: error }, 'proxy request failed');
    if (!res.headersSent) sendAnswer(res, 'bad-gateway', req.headers.accept);
    else res.destroy();
  };

  /**
   * Synchronous on the hot path (cookie-authenticated requests): no promise and no closure per
   * request. Only the one-time token exchange awaits, and only it returns a promise.
   */
  function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const url = req.url ?? '/';
    const target = resolveTarget(routing, req.headers.host, url);
    switch (target.kind) {
      case 'health':
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end('{"status":"ok"}');
        return;
      case 'redirect':
        redirect(res, target.location);
        return;
      case 'not-found':
        sendAnswer(res, 'not-found', req.headers.accept);
        return;
      case 'bad-request':
        sendAnswer(res, 'bad-request', req.headers.accept);
        return;
      case 'codespace':
        break;
    }
    const now = nowMs();
    const tokenInUrl = takeToken(url);
    if (tokenInUrl) return exchangeToken(req, res, target.name, tokenInUrl, now);
    const result = authorise(req, target.name, now);
    if (!result.ok) {
      sendAnswer(res, result.answer, req.headers.accept);
      return;
    }
    if (!isServing(result.route)) {
      sendAnswer(res, notServingAnswer(result.route), req.headers.accept);
      return;
    }
    activity.touch(target.name, now);
    forwarder.forward(req, res, {
      codespace: target.name,
      hostPort: result.route.hostPort,
      path: target.forwardPath,
      context: forwardContext(req, target.publicPrefix),
      extraSetCookie:
        result.session && auth.needsRefresh(result.session, now)
          ? auth.issueSessionCookie(result.user, target.name, now)
          : undefined,
      onError: onUpstreamError,
    });
    return;
  }

  async function exchangeToken(
    req: IncomingMessage,
    res: ServerResponse,
    codespace: string,
    tokenInUrl: { token: string; urlWithoutToken: string },
    now: number,
  ): Promise<void> {
    const result = await authoriseByToken(tokenInUrl.token, codespace);
    if (!result.ok) {
      sendAnswer(res, result.answer, req.headers.accept);
      return;
    }
    // The token leaves the URL (and history, and Referer) at once; the cookie carries on.
    redirect(res, tokenInUrl.urlWithoutToken, auth.issueSessionCookie(result.user, codespace, now));
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const target = resolveTarget(routing, req.headers.host, url);
    if (target.kind !== 'codespace') {
      refuseUpgrade(socket, target.kind === 'bad-request' ? 'bad-request' : 'not-found');
      return;
    }
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      refuseUpgrade(socket, 'bad-request');
      return;
    }
    const now = nowMs();
    const tokenInUrl = takeToken(url);
    const result = tokenInUrl
      ? await authoriseByToken(tokenInUrl.token, target.name)
      : authorise(req, target.name, now);
    if (!result.ok) {
      refuseUpgrade(socket, result.answer);
      return;
    }
    // Cross-site WebSocket hijacking: cookies ride along on any page's WebSocket, so only the
    // codespace's own origin may open one. Clients without Origin are not browsers and hold
    // their credentials themselves.
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      origin.toLowerCase() !== `${proto}://${(req.headers.host ?? '').toLowerCase()}`
    ) {
      refuseUpgrade(socket, 'forbidden');
      return;
    }
    if (!isServing(result.route)) {
      refuseUpgrade(socket, notServingAnswer(result.route));
      return;
    }
    activity.touch(target.name, now);
    (socket as Socket).setNoDelay?.(true);
    const observer = options.onClientFrame;
    const meter = new ClientFrameMeter(
      config.activityMinFrameBytes,
      observer ? (frame) => observer(target.name, frame) : undefined,
    );
    tunnelWebSocket(req, socket, head, {
      hostPort: result.route.hostPort,
      path: tokenInUrl ? withoutTokenPath(target.forwardPath) : target.forwardPath,
      context: forwardContext(req, target.publicPrefix),
      onClientBytes: (chunk) => {
        if (meter.push(chunk) > 0) activity.touch(target.name, nowMs());
      },
      onConnectFailure: (error) => {
        log.debug({ codespace: target.name, err: error }, 'upstream refused a WebSocket');
        refuseUpgrade(socket, 'bad-gateway');
      },
    });
  }

  const serverOptions = {
    maxHeaderSize: maxRequestHeaderBytes,
    // Never the lenient parser: it is what lets smuggled requests through.
    insecureHTTPParser: false,
    requireHostHeader: true,
    keepAliveTimeout: clientKeepAliveTimeoutMs,
    headersTimeout: clientHeadersTimeoutMs,
  };
  const server: Server = options.tls
    ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key })
    : createHttpServer(serverOptions);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    try {
      onRequest(req, res)?.catch((error: unknown) => onRequestFailed(req, res, error));
    } catch (error) {
      onRequestFailed(req, res, error);
    }
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((error: unknown) => {
      log.warn({ err: error }, 'proxy upgrade failed');
      socket.destroy();
    });
  });
  // Malformed requests (smuggling attempts among them: duplicate Content-Length, Transfer-Encoding
  // with Content-Length, obfuscated Transfer-Encoding) never reach a handler: 400 and close.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
      socket.destroy(),
    );
  });
  server.on('close', () => forwarder.close());
  return server;
}

function isServing(route: Route): boolean {
  return route.state === 'running' && route.ready;
}

/** A route that is not serving is on its way up (creating, or not answering yet) or on its way down. */
function notServingAnswer(route: Route): 'starting' | 'stopping' {
  return route.state === 'creating' || route.state === 'running' ? 'starting' : 'stopping';
}

function withoutTokenPath(path: string): string {
  return takeToken(path)?.urlWithoutToken ?? path;
}
