import { describe, expect, it } from 'vitest';
import {
  downstreamResponseHeaders,
  serializeHeaders,
  upstreamRequestHeaderLines,
  upstreamRequestHeaders,
} from '../../../src/node-proxy/header-policy.js';

const context = {
  clientAddress: '192.0.2.7',
  proto: 'https',
  publicHost: 'alpha.node.example',
  publicPrefix: '',
} as const;

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop, Connection-listed and identity headers, and sets its own forwarding headers', () => {
    const headers = upstreamRequestHeaders(
      [
        'Host',
        'evil.example',
        'Connection',
        'keep-alive, X-Private',
        'X-Private',
        '1',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Proxy-Authorization',
        'Basic x',
        'X-Forwarded-For',
        '10.0.0.1',
        'X-Forwarded-Host',
        'evil.example',
        'Forwarded',
        'for=10.0.0.1',
        'X-Real-IP',
        '10.0.0.1',
        'X-Codeyard-User',
        'root',
        'Accept',
        'text/html',
        'Accept',
        'application/json',
        'Cookie',
        'a=1; codeyard_session_alpha=s',
        'Cookie',
        'b=2',
      ],
      context,
    );
    expect(headers).toEqual({
      accept: ['text/html', 'application/json'],
      cookie: 'a=1; b=2',
      host: 'alpha.node.example',
      'x-forwarded-for': '192.0.2.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'alpha.node.example',
    });
  });

  it('adds X-Forwarded-Prefix in path mode', () => {
    expect(upstreamRequestHeaders([], { ...context, publicPrefix: '/cs/alpha' })['x-forwarded-prefix']).toBe(
      '/cs/alpha',
    );
  });
});

describe('upstreamRequestHeaderLines', () => {
  const sortedLines = (head: string) => head.split('\r\n').filter(Boolean).sort();
  const cases: Record<string, string[]> = {
    'a browser request': [
      'Host',
      'alpha.node.example',
      'User-Agent',
      'Mozilla/5.0',
      'Accept',
      'text/html',
      'Cookie',
      'a=1; codeyard_session_alpha=s; b=2',
      'Connection',
      'keep-alive',
    ],
    'hop-by-hop, identity and proxy cookies only': [
      'Host',
      'evil.example',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'Proxy-Authorization',
      'Basic x',
      'X-Forwarded-For',
      '10.0.0.1',
      'Forwarded',
      'for=10.0.0.1',
      'X-Codeyard-User',
      'root',
      'Cookie',
      'codeyard_session_alpha=s',
    ],
    'a Connection header naming a later header': [
      'X-Private',
      '1',
      'Connection',
      'close, X-Private, X-Other',
      'X-Other',
      '2',
      'Accept',
      'a',
      'Accept',
      'b',
      'Cookie',
      'a=1',
      'Cookie',
      'b=2',
    ],
  };
  for (const [name, rawHeaders] of Object.entries(cases)) {
    it(`writes the same header lines as the header object for ${name}`, () => {
      for (const ctx of [context, { ...context, publicPrefix: '/cs/alpha' }]) {
        expect(sortedLines(upstreamRequestHeaderLines(rawHeaders, ctx))).toEqual(
          sortedLines(serializeHeaders(upstreamRequestHeaders(rawHeaders, ctx))),
        );
      }
    });
  }

  it('never lets a client-sent X-Forwarded-* or Host through, and ends every line with CRLF', () => {
    const head = upstreamRequestHeaderLines(
      ['Host', 'evil.example', 'X-Forwarded-Host', 'evil.example', 'X-Forwarded-Proto', 'http', 'X-A', '1'],
      context,
    );
    expect(head).toBe(
      'x-a: 1\r\nhost: alpha.node.example\r\nx-forwarded-for: 192.0.2.7\r\n' +
        'x-forwarded-proto: https\r\nx-forwarded-host: alpha.node.example\r\n',
    );
  });
});

describe('downstreamResponseHeaders', () => {
  it('replaces every Content-Length with the one it is given', () => {
    expect(
      downstreamResponseHeaders(['Content-Length', '5', 'X-A', '1', 'content-length', '5'], {
        contentLength: 5,
      }),
    ).toEqual(['X-A', '1', 'Content-Length', '5']);
  });

  it('drops the headers a Connection header names, wherever they stand', () => {
    expect(
      downstreamResponseHeaders(['X-Private', '1', 'Connection', 'keep-alive, x-private', 'X-A', '2']),
    ).toEqual(['X-A', '2']);
  });

  it('keeps duplicates, drops hop-by-hop headers and filters Set-Cookie', () => {
    expect(
      downstreamResponseHeaders([
        'Content-Type',
        'text/html',
        'Transfer-Encoding',
        'chunked',
        'Connection',
        'keep-alive',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'codeyard_session_alpha=x',
        'Set-Cookie',
        'b=2; Domain=node.example',
        'Set-Cookie',
        'c=3',
      ]),
    ).toEqual(['Content-Type', 'text/html', 'Set-Cookie', 'a=1', 'Set-Cookie', 'c=3']);
  });
});

describe('serializeHeaders', () => {
  it('writes one line per value', () => {
    expect(serializeHeaders({ a: '1', b: ['2', '3'] })).toBe('a: 1\r\nb: 2\r\nb: 3\r\n');
  });
});
