import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientFrameMeter } from '../../../src/node-proxy/frame-meter.js';

/** A masked client frame as a browser sends it. */
function clientFrame(
  opcode: number,
  payloadBytes: number,
  options: { fin?: boolean; rsv1?: boolean } = {},
): Buffer {
  const first = ((options.fin ?? true) ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) | opcode;
  let header: Buffer;
  if (payloadBytes < 126) header = Buffer.from([first, 0x80 | payloadBytes]);
  else if (payloadBytes < 65_536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payloadBytes, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payloadBytes), 2);
  }
  return Buffer.concat([header, Buffer.from([1, 2, 3, 4]), Buffer.alloc(payloadBytes, 0x61)]);
}

describe('ClientFrameMeter', () => {
  it('counts data frames at or above the threshold and ignores small ones', () => {
    const meter = new ClientFrameMeter(32);
    expect(meter.push(clientFrame(0x2, 4))).toBe(0);
    expect(meter.push(clientFrame(0x2, 31))).toBe(0);
    expect(meter.push(clientFrame(0x2, 32))).toBe(1);
    expect(meter.push(clientFrame(0x1, 500))).toBe(1);
  });

  it('never counts control frames, however large', () => {
    const meter = new ClientFrameMeter(32);
    expect(
      meter.push(Buffer.concat([clientFrame(0x9, 125), clientFrame(0xa, 125), clientFrame(0x8, 100)])),
    ).toBe(0);
  });

  it('reads 16- and 64-bit lengths and skips their payloads', () => {
    const meter = new ClientFrameMeter(32);
    expect(
      meter.push(Buffer.concat([clientFrame(0x2, 70_000), clientFrame(0x2, 4), clientFrame(0x2, 300)])),
    ).toBe(2);
  });

  it('keeps its place across arbitrary chunk boundaries', () => {
    const stream = Buffer.concat([
      clientFrame(0x2, 4),
      clientFrame(0x2, 200),
      clientFrame(0x9, 0),
      clientFrame(0x2, 40_000),
    ]);
    for (const chunkBytes of [1, 2, 3, 7, 13, 1000]) {
      const meter = new ClientFrameMeter(32);
      let counted = 0;
      for (let offset = 0; offset < stream.length; offset += chunkBytes) {
        counted += meter.push(stream.subarray(offset, offset + chunkBytes));
      }
      expect(counted, `chunks of ${chunkBytes}`).toBe(2);
    }
  });

  it('reports every frame header to an observer', () => {
    const seen: unknown[] = [];
    const meter = new ClientFrameMeter(32, (frame) => seen.push(frame));
    meter.push(Buffer.concat([clientFrame(0x2, 4, { rsv1: true }), clientFrame(0x9, 0)]));
    expect(seen).toEqual([
      { opcode: 2, payloadBytes: 4, compressed: true },
      { opcode: 9, payloadBytes: 0, compressed: false },
    ]);
  });

  it('sees the same frames whatever the chunking, headers split or whole', () => {
    const frame = fc.record({
      opcode: fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa),
      payloadBytes: fc.oneof(fc.integer({ min: 0, max: 140 }), fc.integer({ min: 65_530, max: 65_540 })),
    });
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 20 }),
        (frames, cut) => {
          const stream = Buffer.concat(frames.map((f) => clientFrame(f.opcode, f.payloadBytes)));
          const seen: { opcode: number; payloadBytes: number }[] = [];
          const meter = new ClientFrameMeter(51, (f) =>
            seen.push({ opcode: f.opcode, payloadBytes: f.payloadBytes }),
          );
          let counted = 0;
          // Chunks of varying sizes, so headers land whole, split and at chunk starts.
          for (
            let offset = 0, size = cut;
            offset < stream.length;
            offset += size, size = ((size * 7) % 23) + 1
          ) {
            counted += meter.push(stream.subarray(offset, offset + size));
          }
          expect(seen).toEqual(frames);
          expect(counted).toBe(frames.filter((f) => f.opcode < 0x8 && f.payloadBytes >= 51).length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
