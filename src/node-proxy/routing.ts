import { isDnsLabel } from '../model/names.js';
import type { RoutingMode } from './config.js';

/** The path-mode prefix: `/cs/{codespace}/…`. */
export const pathModePrefix = '/cs/';
export const healthPath = '/healthz';

export interface RoutingOptions {
  mode: RoutingMode;
  /** Lower-case DNS suffix; codespaces are `{name}.{nodeDomain}` in subdomain mode. */
  nodeDomain: string;
}

/** What a request line and Host header ask for; pure, so every path trick is unit-testable. */
export type RequestTarget =
  | {
      kind: 'codespace';
      name: string;
      /** Path and query as the container sees them (prefix stripped in path mode). */
      forwardPath: string;
      /** `/cs/{name}` in path mode, empty in subdomain mode: sent as X-Forwarded-Prefix. */
      publicPrefix: string;
    }
  | { kind: 'redirect'; location: string }
  | { kind: 'health' }
  | { kind: 'not-found' }
  | { kind: 'bad-request'; reason: string };

const dotSegment = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Maps a request to a codespace. Request targets that are not origin-form (`GET http://…`,
 * `*`), that start with `//`, or that hold `.`/`..` segments (plain or `%2e`-encoded) are
 * refused outright: the container is always 127.0.0.1:<its port>, but no path trick should
 * reach a different route, port or prefix than the one authorised.
 */
export function resolveTarget(options: RoutingOptions, host: string | undefined, url: string): RequestTarget {
  if (url.charCodeAt(0) !== 0x2f /* / */ || url.startsWith('//')) {
    return { kind: 'bad-request', reason: 'request target must be a path' };
  }
  const queryStart = url.indexOf('?');
  const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
  if (pathname.includes('\\') || dotSegment.test(pathname)) {
    return { kind: 'bad-request', reason: 'dot segments are not allowed in paths' };
  }
  if (options.mode === 'path') return resolvePathMode(url, pathname, queryStart);
  return resolveSubdomainMode(options.nodeDomain, host, url, pathname);
}

function resolvePathMode(url: string, pathname: string, queryStart: number): RequestTarget {
  if (!pathname.startsWith(pathModePrefix)) {
    return pathname === healthPath ? { kind: 'health' } : { kind: 'not-found' };
  }
  const nameEnd = pathname.indexOf('/', pathModePrefix.length);
  const name = pathname.slice(pathModePrefix.length, nameEnd === -1 ? undefined : nameEnd);
  if (!isDnsLabel(name)) return { kind: 'not-found' };
  const publicPrefix = `${pathModePrefix}${name}`;
  if (nameEnd === -1) {
    // `/cs/name` → `/cs/name/`: relative URLs in the workbench resolve against the trailing slash.
    return {
      kind: 'redirect',
      location: `${publicPrefix}/${queryStart === -1 ? '' : url.slice(queryStart)}`,
    };
  }
  return { kind: 'codespace', name, forwardPath: url.slice(publicPrefix.length), publicPrefix };
}

function resolveSubdomainMode(
  nodeDomain: string,
  host: string | undefined,
  url: string,
  pathname: string,
): RequestTarget {
  const hostname = hostnameOf(host);
  if (hostname === undefined) return { kind: 'bad-request', reason: 'missing or malformed Host header' };
  if (hostname === nodeDomain) return pathname === healthPath ? { kind: 'health' } : { kind: 'not-found' };
  if (
    hostname.length <= nodeDomain.length + 1 ||
    !hostname.endsWith(nodeDomain) ||
    hostname.charCodeAt(hostname.length - nodeDomain.length - 1) !== 0x2e /* . */
  ) {
    return { kind: 'not-found' };
  }
  const name = hostname.slice(0, hostname.length - nodeDomain.length - 1);
  if (!isDnsLabel(name)) return { kind: 'not-found' };
  return { kind: 'codespace', name, forwardPath: url, publicPrefix: '' };
}

/** Lower-case host name without port; undefined when the header is absent or not a plain name. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end === -1 ? undefined : lower.slice(0, end + 1);
  }
  const colon = lower.indexOf(':');
  const name = colon === -1 ? lower : lower.slice(0, colon);
  if (colon !== -1 && !/^[0-9]{1,5}$/.test(lower.slice(colon + 1))) return undefined;
  return /^[a-z0-9.-]+$/.test(name) ? name : undefined;
}

export const tokenQueryParameter = 'codeyard_token';

/**
 * Takes `codeyard_token` out of a URL. Returns undefined when there is none (the common case,
 * decided by one substring search), else the token and the URL to redirect to without it.
 */
export function takeToken(url: string): { token: string; urlWithoutToken: string } | undefined {
  const queryStart = url.indexOf('?');
  if (queryStart === -1 || !url.includes(`${tokenQueryParameter}=`, queryStart)) return undefined;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  const token = params.get(tokenQueryParameter);
  if (!token) return undefined;
  params.delete(tokenQueryParameter);
  const rest = params.toString();
  return { token, urlWithoutToken: `${url.slice(0, queryStart)}${rest ? `?${rest}` : ''}` };
}
