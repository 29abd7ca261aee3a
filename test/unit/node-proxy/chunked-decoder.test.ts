import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, maxChunkLineBytes } from '../../../src/node-proxy/chunked-decoder.js';

/** Feeds `wire` in pieces of `step` bytes; returns the body, bytes consumed and whether it ended. */
function decode(wire: string, step = wire.length) {
  const decoder = new ChunkedDecoder();
  const input = Buffer.from(wire, 'latin1');
  const body: Buffer[] = [];
  let consumed = 0;
  for (let at = 0; at < input.length; at += step) {
    const piece = input.subarray(at, Math.min(at + step, input.length));
    const result = decoder.push(piece, 0, (data) => body.push(Buffer.from(data)));
    if (!result.ok) return { ok: false as const, reason: result.reason };
    consumed += result.consumed;
    if (result.done) return { ok: true as const, body: Buffer.concat(body).toString(), consumed, done: true };
  }
  return { ok: true as const, body: Buffer.concat(body).toString(), consumed, done: false };
}

describe('ChunkedDecoder', () => {
  const wire = '5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n';

  it('decodes chunks, skips extensions and trailers, and stops at the end of the body', () => {
    expect(decode(`${wire}NEXT`)).toEqual({
      ok: true,
      body: 'hello 0123456789',
      consumed: wire.length,
      done: true,
    });
  });

  it('gives the same body whatever the read boundaries', () => {
    for (const step of [1, 2, 3, 7, 13]) {
      expect(decode(wire, step)).toMatchObject({ ok: true, body: 'hello 0123456789', done: true });
    }
  });

  it('reports an unfinished body as not done', () => {
    expect(decode('5\r\nhel')).toEqual({ ok: true, body: 'hel', consumed: 6, done: false });
  });

  it('refuses malformed sizes, missing CRLFs and chunks longer than declared', () => {
    for (const bad of [
      'x\r\n',
      '-5\r\nhello\r\n',
      ' 5\r\nhello\r\n',
      '5 \r\nhello\r\n',
      '5\nhello\r\n',
      '5\r\nhelloX\r\n',
      '5\r\nhello\n0\r\n\r\n',
      '0\r\n\n',
      '0\r\nX: 1\n\r\n',
      '10000000000000\r\n',
    ]) {
      expect(decode(bad), JSON.stringify(bad)).toMatchObject({ ok: false });
    }
  });

  it('refuses over-long extension lines and trailers', () => {
    expect(decode(`1;${'a'.repeat(maxChunkLineBytes + 1)}\r\n`)).toMatchObject({ ok: false });
    expect(decode(`0\r\nX: ${'a'.repeat(maxChunkLineBytes + 1)}\r\n\r\n`)).toMatchObject({ ok: false });
  });
});
