/** WebSocket opcodes ≥ 0x8 are control frames (close, ping, pong): never a person. */
const firstControlOpcode = 0x8;
const maxFrameHeaderBytes = 14;

export interface FrameObserver {
  (frame: { opcode: number; payloadBytes: number; compressed: boolean }): void;
}

/**
 * Reads only the headers of client→server WebSocket frames (2 bytes, extended length, mask
 * key) and skips payloads without unmasking or inflating them, to tell a person's activity
 * from keep-alives: a data frame counts when its payload is at least `minPayloadBytes`.
 * VS Code's KeepAlive and Ack messages are 13 bytes and its latency pings 38; a keystroke is
 * at least 51 (docs/node-proxy.md has measurements). Sizes only mean something uncompressed,
 * which is why the tunnel does not negotiate permessage-deflate.
 * Bytes are fed in arbitrary chunks; state carries over between them.
 */
export class ClientFrameMeter {
  private readonly header = Buffer.alloc(maxFrameHeaderBytes);
  private headerLength = 0;
  private payloadRemaining = 0;

  constructor(
    private readonly minPayloadBytes: number,
    private readonly observer?: FrameObserver,
  ) {}

  /** Consumes one chunk; returns how many complete frame headers in it were a person's activity. */
  push(chunk: Buffer): number {
    let active = 0;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payloadRemaining > 0) {
        const skipped = Math.min(this.payloadRemaining, chunk.length - offset);
        this.payloadRemaining -= skipped;
        offset += skipped;
        continue;
      }
      this.header[this.headerLength++] = chunk[offset++]!;
      if (this.headerLength < 2) continue;
      const needed = headerLengthFor(this.header);
      if (this.headerLength < needed) continue;
      const opcode = this.header[0]! & 0x0f;
      const payloadBytes = payloadLengthOf(this.header);
      this.headerLength = 0;
      this.payloadRemaining = payloadBytes;
      this.observer?.({ opcode, payloadBytes, compressed: (this.header[0]! & 0x40) !== 0 });
      if (opcode < firstControlOpcode && payloadBytes >= this.minPayloadBytes) active++;
    }
    return active;
  }
}

function headerLengthFor(header: Buffer): number {
  const length7 = header[1]! & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const mask = (header[1]! & 0x80) !== 0 ? 4 : 0;
  return 2 + extended + mask;
}

function payloadLengthOf(header: Buffer): number {
  const length7 = header[1]! & 0x7f;
  if (length7 === 126) return header.readUInt16BE(2);
  // 64-bit lengths beyond 2^53 cannot be real traffic; clamping keeps the arithmetic exact.
  if (length7 === 127) return Math.min(Number(header.readBigUInt64BE(2)), Number.MAX_SAFE_INTEGER);
  return length7;
}
