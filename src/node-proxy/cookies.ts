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

/** All values sent under `name` (a tossed duplicate may precede ours, so callers try each). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header || !header.includes(name)) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals === -1) continue;
    if (pair.slice(0, equals).trim() === name) values.push(pair.slice(equals + 1).trim());
  }
  return values;
}

/** The Cookie header without the proxy's cookies: a workspace never sees a session. */
export function withoutProxyCookies(header: string): string | undefined {
  if (!header.toLowerCase().includes('codeyard')) return header;
  const kept = header
    .split(';')
    .filter((pair) => !isProxyCookieName(pair.slice(0, Math.max(0, pair.indexOf('=')))))
    .map((pair) => pair.trim())
    .filter((pair) => pair.length > 0);
  return kept.length > 0 ? kept.join('; ') : undefined;
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
