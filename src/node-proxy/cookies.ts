import type { RoutingMode } from './config.js';
import { pathModePrefix } from './routing.js';

/** Every cookie the proxy owns starts with one of these (compared lower-case). */
const proxyCookiePrefixes = ['codeyard', '__host-codeyard'];

export function isProxyCookieName(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return proxyCookiePrefixes.some((prefix) => lower.startsWith(prefix));
}

export interface CookiePolicy {
  mode: RoutingMode;
  /** Browsers reach the proxy over HTTPS. */
  secure: boolean;
}

/**
 * The session cookie's name for one codespace. Under TLS in subdomain mode it is
 * `__Host-codeyard_session`: the browser then guarantees Secure, Path=/ and no Domain, so a
 * sibling subdomain cannot toss a cookie that passes for ours. Elsewhere the name carries the
 * codespace, so codespaces sharing a host (path mode, or `*.localhost` without TLS) never
 * overwrite each other's session.
 */
export function sessionCookieName(policy: CookiePolicy, codespace: string): string {
  if (policy.mode === 'subdomain' && policy.secure) return '__Host-codeyard_session';
  return `codeyard_session_${codespace}`;
}

export function sessionCookieHeader(
  policy: CookiePolicy,
  codespace: string,
  value: string,
  maxAgeSeconds: number,
): string {
  const path = policy.mode === 'path' ? `${pathModePrefix}${codespace}/` : '/';
  return (
    `${sessionCookieName(policy, codespace)}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax` +
    (policy.secure ? '; Secure' : '')
  );
}

/**
 * All values sent under `name` (a tossed duplicate may precede ours, so callers try each).
 * Runs on every request: found by index rather than by splitting the header into pairs.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (!header) return values;
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at === -1) return values;
    // The pair holding this occurrence; its name is what stands before its first `=`.
    const pairStart = header.lastIndexOf(';', at) + 1;
    const equals = header.indexOf('=', pairStart);
    if (equals === -1) return values;
    let pairEnd = header.indexOf(';', at);
    if (pairEnd === -1) pairEnd = header.length;
    if (equals < pairEnd && header.slice(pairStart, equals).trim() === name) {
      values.push(header.slice(equals + 1, pairEnd).trim());
    }
    from = pairEnd;
  }
}

/** The Cookie header without the proxy's cookies: a workspace never sees a session. */
export function withoutProxyCookies(header: string): string | undefined {
  if (!header.toLowerCase().includes('codeyard')) return header;
  let kept = '';
  for (let pairStart = 0; pairStart <= header.length;) {
    let pairEnd = header.indexOf(';', pairStart);
    if (pairEnd === -1) pairEnd = header.length;
    const equals = header.indexOf('=', pairStart);
    const name = equals === -1 || equals > pairEnd ? '' : header.slice(pairStart, equals);
    if (!isProxyCookieName(name)) {
      const pair = header.slice(pairStart, pairEnd).trim();
      if (pair.length > 0) kept = kept.length > 0 ? `${kept}; ${pair}` : pair;
    }
    pairStart = pairEnd + 1;
  }
  return kept.length > 0 ? kept : undefined;
}

/**
 * Whether a workspace's Set-Cookie may reach the browser: never one named like ours (it could
 * replace or shadow a session) and never one with a Domain attribute (it would reach every
 * codespace under the node domain).
 */
export function isAllowedUpstreamSetCookie(value: string): boolean {
  const equals = value.indexOf('=');
  const name = equals === -1 ? value : value.slice(0, equals);
  if (isProxyCookieName(name)) return false;
  return !/;\s*domain\s*=/i.test(value);
}
