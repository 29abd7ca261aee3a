import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cookieValues,
  isAllowedUpstreamSetCookie,
  sessionCookieHeader,
  sessionCookieName,
  withoutProxyCookies,
} from '../../../src/node-proxy/cookies.js';

describe('session cookie naming and attributes', () => {
  it('uses __Host- under TLS in subdomain mode, with Secure and Path=/', () => {
    const policy = { mode: 'subdomain', secure: true } as const;
    expect(sessionCookieName(policy, 'alpha')).toBe('__Host-codeyard_session');
    expect(sessionCookieHeader(policy, 'alpha', 'v', 60)).toBe(
      '__Host-codeyard_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure',
    );
  });

  it('names the codespace without TLS and scopes the path in path mode', () => {
    expect(sessionCookieHeader({ mode: 'subdomain', secure: false }, 'alpha', 'v', 60)).toBe(
      'codeyard_session_alpha=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
    );
    expect(sessionCookieHeader({ mode: 'path', secure: true }, 'alpha', 'v', 60)).toBe(
      'codeyard_session_alpha=v; Path=/cs/alpha/; Max-Age=60; HttpOnly; SameSite=Lax; Secure',
    );
  });
});

describe('cookie header handling', () => {
  it('finds every value sent under a name', () => {
    expect(
      cookieValues('a=1; codeyard_session_x=one; b=2; codeyard_session_x=two', 'codeyard_session_x'),
    ).toEqual(['one', 'two']);
    expect(cookieValues('codeyard_session_xy=1', 'codeyard_session_x')).toEqual([]);
    expect(cookieValues(undefined, 'x')).toEqual([]);
  });

  it("removes the proxy's cookies from what the workspace sees", () => {
    expect(
      withoutProxyCookies('a=1; codeyard_session_x=s; __Host-codeyard_session=t; CODEYARD_x=u; b=2'),
    ).toBe('a=1; b=2');
    expect(withoutProxyCookies('codeyard_session_x=s')).toBeUndefined();
    expect(withoutProxyCookies('plain=1')).toBe('plain=1');
  });

  it("refuses a workspace's cookie named like ours or carrying a Domain", () => {
    expect(isAllowedUpstreamSetCookie('codeyard_session_alpha=x; Path=/')).toBe(false);
    expect(isAllowedUpstreamSetCookie('__Host-codeyard_session=x; Path=/; Secure')).toBe(false);
    expect(isAllowedUpstreamSetCookie('__host-CodeYard=x')).toBe(false);
    expect(isAllowedUpstreamSetCookie('pref=1; Path=/; domain=example.com')).toBe(false);
    expect(isAllowedUpstreamSetCookie('pref=1; Path=/; HttpOnly')).toBe(true);
  });
});

/** The plain split-into-pairs readings the index-based ones must agree with. */
function referenceCookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals !== -1 && pair.slice(0, equals).trim() === name) values.push(pair.slice(equals + 1).trim());
  }
  return values;
}

function referenceWithoutProxyCookies(header: string): string | undefined {
  if (!header.toLowerCase().includes('codeyard')) return header;
  const kept = header
    .split(';')
    .filter((pair) => {
      const lower = pair
        .slice(0, Math.max(0, pair.indexOf('=')))
        .trim()
        .toLowerCase();
      return !lower.startsWith('codeyard') && !lower.startsWith('__host-codeyard');
    })
    .map((pair) => pair.trim())
    .filter((pair) => pair.length > 0);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

describe('cookie header parsing agrees with splitting into pairs', () => {
  const piece = fc.constantFrom(
    'codeyard_session_x',
    'codeyard_session_xy',
    '__Host-codeyard_session',
    'CodeYard',
    'a',
    '=',
    ';',
    ' ',
    '\t',
    'v1.abc',
  );
  const header = fc.array(piece, { maxLength: 16 }).map((pieces) => pieces.join(''));

  it('finds the same values under a name', () => {
    fc.assert(
      fc.property(header, (text) => {
        expect(cookieValues(text, 'codeyard_session_x')).toEqual(
          referenceCookieValues(text, 'codeyard_session_x'),
        );
      }),
    );
  });

  it("keeps the same cookies when removing the proxy's", () => {
    fc.assert(
      fc.property(header, (text) => {
        expect(withoutProxyCookies(text)).toEqual(referenceWithoutProxyCookies(text));
      }),
    );
  });
});
