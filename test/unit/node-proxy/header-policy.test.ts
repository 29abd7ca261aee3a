import { describe, expect, it } from 'vitest';
import {
  downstreamResponseHeaders,
  serializeHeaders,
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

describe('downstreamResponseHeaders', () => {
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
