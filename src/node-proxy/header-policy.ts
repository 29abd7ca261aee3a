import type { OutgoingHttpHeaders } from 'node:http';
import { isAllowedUpstreamSetCookie, withoutProxyCookies } from './cookies.js';

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus proxy credentials. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Identity a client could claim for itself; only the proxy may say who and where the client is. */
const clientIdentityHeaders = new Set(['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip']);

function isClientIdentityHeader(lowerName: string): boolean {
  return (
    clientIdentityHeaders.has(lowerName) ||
    lowerName.startsWith('x-forwarded-') ||
    lowerName.startsWith('x-codeyard-')
  );
}

/** Extra hop-by-hop names a sender lists in its Connection header. */
function connectionTokens(rawHeaders: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') {
        (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

export interface ForwardContext {
  /** The client's address as the socket saw it. */
  clientAddress: string;
  /** `https` when browsers reach the proxy over TLS. */
  proto: 'http' | 'https';
  /** The Host header the browser sent (the public host). */
  publicHost: string;
  /** `/cs/{name}` in path mode, else empty. */
  publicPrefix: string;
}

/** Whether a client request header (lower-case name) never reaches the container as sent. */
function isDroppedRequestHeader(lowerName: string): boolean {
  return hopByHop.has(lowerName) || isClientIdentityHeader(lowerName) || lowerName === 'host';
}

/**
 * The headers a container receives: the client's, minus hop-by-hop and identity headers and
 * the proxy's own cookies, plus X-Forwarded-For/Proto/Host (and Prefix in path mode) set by
 * the proxy alone. Host stays the public host: code-server compares it with Origin.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  context: ForwardContext,
): OutgoingHttpHeaders {
  const extraHopByHop = connectionTokens(rawHeaders);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (isDroppedRequestHeader(name) || extraHopByHop?.has(name)) continue;
    if (name === 'cookie') {
      const kept = withoutProxyCookies(value);
      if (kept === undefined) continue;
      headers.cookie = headers.cookie === undefined ? kept : `${headers.cookie as string}; ${kept}`;
      continue;
    }
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  headers.host = context.publicHost;
  headers['x-forwarded-for'] = context.clientAddress;
  headers['x-forwarded-proto'] = context.proto;
  headers['x-forwarded-host'] = context.publicHost;
  if (context.publicPrefix) headers['x-forwarded-prefix'] = context.publicPrefix;
  return headers;
}

/**
 * The same headers as `upstreamRequestHeaders`, serialized as the lines of a raw HTTP/1.1
 * request head (each ending in CRLF), for the raw forwarder's hot path: one pass over the
 * client's headers building one string, with no header object in between. A Connection header
 * listing extra hop-by-hop names (rare) takes the general path, which needs them up front.
 * Values come from Node's parser, which refuses CR/LF.
 */
export function upstreamRequestHeaderLines(rawHeaders: readonly string[], context: ForwardContext): string {
  let lines = '';
  let cookie: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'cookie') {
      const kept = withoutProxyCookies(value);
      if (kept !== undefined) cookie = cookie === undefined ? kept : `${cookie}; ${kept}`;
      continue;
    }
    if (isDroppedRequestHeader(name)) {
      if (name === 'connection' && connectionTokens([name, value]) !== undefined) {
        return serializeHeaders(upstreamRequestHeaders(rawHeaders, context));
      }
      continue;
    }
    lines += `${name}: ${value}\r\n`;
  }
  if (cookie !== undefined) lines += `cookie: ${cookie}\r\n`;
  lines += `host: ${context.publicHost}\r\nx-forwarded-for: ${context.clientAddress}\r\nx-forwarded-proto: ${context.proto}\r\nx-forwarded-host: ${context.publicHost}\r\n`;
  if (context.publicPrefix) lines += `x-forwarded-prefix: ${context.publicPrefix}\r\n`;
  return lines;
}

/**
 * The container's response headers as the browser may see them: hop-by-hop headers dropped
 * (Node frames the body itself) and Set-Cookie filtered (see isAllowedUpstreamSetCookie).
 * Returned flat, `[name, value, name, value…]`, as `writeHead` accepts, keeping duplicates.
 * With `contentLength`, every Content-Length the container sent is replaced by that one value
 * (the raw forwarder's validated length: a repeated-but-equal header is not passed on).
 */
export function downstreamResponseHeaders(
  rawHeaders: readonly string[],
  options: { contentLength?: number | undefined } = {},
): string[] {
  // One pass, each name lower-cased once; only a Connection header that lists extra
  // hop-by-hop names (rare) needs a second pass knowing them up front.
  const kept =
    keptResponseHeaders(rawHeaders, undefined, options.contentLength) ??
    keptResponseHeaders(rawHeaders, connectionTokens(rawHeaders), options.contentLength)!;
  if (options.contentLength !== undefined) kept.push('Content-Length', String(options.contentLength));
  return kept;
}

/** undefined when it meets Connection tokens it was not given. */
function keptResponseHeaders(
  rawHeaders: readonly string[],
  extraHopByHop: Set<string> | undefined,
  contentLength: number | undefined,
): string[] | undefined {
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (hopByHop.has(lower)) {
      if (lower === 'connection' && extraHopByHop === undefined && connectionTokens([lower, value])) {
        return undefined;
      }
      continue;
    }
    if (extraHopByHop?.has(lower)) continue;
    if (contentLength !== undefined && lower === 'content-length') continue;
    if (lower === 'set-cookie' && !isAllowedUpstreamSetCookie(value)) continue;
    kept.push(name, value);
  }
  return kept;
}

/** Serializes headers for a raw HTTP/1.1 request head (WebSocket upgrades). Values come from Node's parser, which refuses CR/LF. */
export function serializeHeaders(headers: OutgoingHttpHeaders): string {
  let head = '';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) head += `${name}: ${one}\r\n`;
    else head += `${name}: ${String(value)}\r\n`;
  }
  return head;
}
