import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './header-policy.js';
import { sendAnswer } from './pages.js';
import {
  upstreamHost,
  upstreamIdleSocketTimeoutMs,
  upstreamMaxSocketsPerContainer,
  type ForwardOptions,
  type HttpForwarder,
} from './upstream-http.js';

/** find-my-way bounds the wildcard like any parameter; container paths may be long. */
export const replyFromMaxPathParamLength = 65_536;

/** Flattens Node/undici header objects to `[name, value…]` so the native header policy applies unchanged. */
function rawPairs(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) raw.push(name, one);
    else raw.push(name, String(value));
  }
  return raw;
}

function headerObject(raw: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const existing = headers[name];
    if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  return headers;
}

/** The container's answer headers after the proxy's policy, plus a refreshed session cookie. */
export function replyFromResponseHeaders(
  headers: IncomingHttpHeaders,
  extraSetCookie: string | undefined,
): Record<string, string | string[]> {
  const kept = downstreamResponseHeaders(rawPairs(headers));
  if (extraSetCookie) kept.push('Set-Cookie', extraSetCookie);
  return headerObject(kept);
}

/**
 * Forwards with @fastify/reply-from (the forwarder the product brief names), for comparison
 * with the native one: a private fastify instance, never listening, receives requests the
 * proxy has already authenticated and routed; it applies the same header policy, cookie
 * filter and 502 page. Retries are off: the native forwarder never repeats a request.
 */
export function createReplyFromForwarder(): HttpForwarder {
  const pending = new WeakMap<IncomingMessage, ForwardOptions>();
  let dispatch: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = Fastify({
    logger: false,
    routerOptions: { maxParamLength: replyFromMaxPathParamLength },
    serverFactory: (handler) => {
      dispatch = handler;
      return createServer();
    },
  });
  // Bodies are streamed to the container untouched, whatever their type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  void app.register(replyFrom, {
    disableRequestLogging: true,
    undici: {
      connections: upstreamMaxSocketsPerContainer,
      pipelining: 1,
      keepAliveTimeout: upstreamIdleSocketTimeoutMs,
    },
  });
  app.all('*', (request, reply) => {
    const options = pending.get(request.raw);
    if (!options) {
      reply.hijack();
      sendAnswer(reply.raw as ServerResponse, 'bad-gateway', request.headers.accept);
      return reply;
    }
    return reply.from(`http://${upstreamHost}:${options.hostPort}${options.path}`, {
      // Node's request writer accepts these as they are; the type is Outgoing only in name.
      rewriteRequestHeaders: () =>
        upstreamRequestHeaders(request.raw.rawHeaders, options.context) as IncomingHttpHeaders,
      retryDelay: () => null,
      rewriteHeaders: (headers) => replyFromResponseHeaders(headers, options.extraSetCookie),
      onError: (failed, { error }) => {
        options.onError(error, options.codespace);
        if (failed.sent) return;
        failed.hijack();
        const res = failed.raw as ServerResponse;
        if (res.headersSent) res.destroy();
        else sendAnswer(res, 'bad-gateway', request.headers.accept);
      },
    });
  });
  let ready = false;
  const readiness = app.ready().then(() => {
    ready = true;
  });

  return {
    forward(req, res, options) {
      pending.set(req, options);
      if (ready) {
        dispatch!(req, res);
        return;
      }
      readiness.then(
        () => dispatch!(req, res),
        (error: unknown) => {
          options.onError(error instanceof Error ? error : new Error(String(error)), options.codespace);
          sendAnswer(res, 'bad-gateway', req.headers.accept);
        },
      );
    },
    close() {
      void app.close();
    },
  };
}
