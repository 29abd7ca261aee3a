import { describe, expect, it } from 'vitest';
import { maxResponseHeadBytes, parseResponseHead } from '../../../src/node-proxy/response-head.js';

function parse(text: string, method = 'GET') {
  return parseResponseHead(Buffer.from(text, 'latin1'), method);
}

describe('parseResponseHead', () => {
  it('reads status, headers in order and a Content-Length body', () => {
    const head = parse(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello',
    );
    expect(head).toMatchObject({
      kind: 'head',
      headBytes: 72,
      status: 200,
      statusMessage: 'OK',
      rawHeaders: ['Content-Type', 'text/plain', 'Content-Length', '5', 'X-A', '1'],
      framing: { kind: 'length', bytes: 5 },
      contentLength: 5,
      reusable: true,
    });
  });

  it('waits for more bytes until the blank line arrives', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n')).toEqual({ kind: 'incomplete' });
  });

  it('frames chunked bodies, close-delimited bodies and bodiless answers', () => {
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({
      framing: { kind: 'chunked' },
      reusable: true,
    });
    expect(parse('HTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ framing: { kind: 'close' }, reusable: false });
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n')).toMatchObject({
      framing: { kind: 'none' },
      reusable: true,
    });
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n')).toMatchObject({
      framing: { kind: 'none' },
    });
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD')).toMatchObject({
      framing: { kind: 'none' },
      contentLength: 10,
    });
  });

  it('does not reuse a connection the container asked to close, or an HTTP/1.0 one without keep-alive', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')).toMatchObject({
      reusable: false,
    });
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ reusable: false });
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')).toMatchObject({
      reusable: true,
    });
  });

  it('skips interim 1xx answers and refuses a protocol switch', () => {
    expect(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n')).toEqual({
      kind: 'interim',
      headBytes: 25,
    });
    expect(parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n')).toMatchObject({
      kind: 'invalid',
    });
  });

  it('accepts a repeated Content-Length only when every value is the same', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n')).toMatchObject({
      framing: { kind: 'length', bytes: 5 },
    });
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n')).toMatchObject({ contentLength: 5 });
    for (const bad of [
      'Content-Length: 5\r\nContent-Length: 6',
      'Content-Length: 5, 6',
      'Content-Length: -1',
      'Content-Length: +5',
      'Content-Length: 0x10',
      'Content-Length: 5 5',
      'Content-Length: ',
      'Content-Length: 99999999999999999999',
    ]) {
      expect(parse(`HTTP/1.1 200 OK\r\n${bad}\r\n\r\n`), bad).toMatchObject({ kind: 'invalid' });
    }
  });

  it('refuses Transfer-Encoding other than one plain chunked, and chunked with Content-Length', () => {
    for (const bad of [
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: chunked, identity',
      'Transfer-Encoding: identity',
      'Transfer-Encoding: xchunked',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
      'Transfer-Encoding: chunked\r\nContent-Length: 5',
    ]) {
      expect(parse(`HTTP/1.1 200 OK\r\n${bad}\r\n\r\n`), bad).toMatchObject({ kind: 'invalid' });
    }
  });

  it('refuses malformed status lines, folded lines, bad names and control characters', () => {
    for (const bad of [
      'HTTP/1.1 20 OK\r\n\r\n',
      'HTTP/2 200 OK\r\n\r\n',
      'ICY 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\n: empty name\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n',
      'HTTP/1.1 200 OK\rX-A: 1\r\n\r\n',
    ]) {
      expect(parse(bad), JSON.stringify(bad)).toMatchObject({ kind: 'invalid' });
    }
  });

  it('trims blanks around values and keeps empty values, tabs inside values and obs-text', () => {
    expect(parse('HTTP/1.1 200 OK\r\nX-A: \t a\tb \t\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n')).toMatchObject(
      {
        kind: 'head',
        rawHeaders: ['X-A', 'a\tb', 'X-Empty', '', 'X-Latin', 'caf\xe9'],
        framing: { kind: 'close' },
      },
    );
  });

  it('refuses control characters and bare CR or LF anywhere in the head, the status line included', () => {
    for (const bad of [
      'HTTP/1.1 200 O\x01K\r\n\r\n',
      'HTTP/1.1 200 OK\nX-A: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: 1\x7f\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX\x0bA: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: 1\r\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-\xe9: 1\r\n\r\n',
    ]) {
      expect(parse(bad), JSON.stringify(bad)).toMatchObject({ kind: 'invalid' });
    }
  });

  it(`refuses a head larger than ${maxResponseHeadBytes} bytes, complete or not`, () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(maxResponseHeadBytes)}`;
    expect(parse(big)).toMatchObject({ kind: 'invalid' });
    expect(parse(`${big}\r\n\r\n`)).toMatchObject({ kind: 'invalid' });
  });
});
