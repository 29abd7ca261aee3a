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

  /**
   * Consumes one chunk; returns how many complete frame headers in it were a person's activity.
   * Runs on every client message: a header that lies whole in the chunk (the common case) is
   * read in place, and only one split across chunks is gathered byte by byte.
   */
  push(chunk: Buffer): number {
    let active = 0;
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.payloadRemaining > 0) {
        const skipped = Math.min(this.payloadRemaining, length - offset);
        this.payloadRemaining -= skipped;
        offset += skipped;
        continue;
      }
      if (this.headerLength === 0 && length - offset >= 2) {
        const needed = headerLengthFor(chunk[offset + 1]!);
        if (length - offset >= needed) {
          active += this.frameHeader(chunk, offset);
          offset += needed;
          continue;
        }
      }
      this.header[this.headerLength++] = chunk[offset++]!;
      if (this.headerLength < 2 || this.headerLength < headerLengthFor(this.header[1]!)) continue;
      this.headerLength = 0;
      active += this.frameHeader(this.header, 0);
    }
    return active;
  }

  /** A complete header at `at`: its payload is skipped next; 1 when the frame is a person's activity. */
  private frameHeader(bytes: Buffer, at: number): number {
    const first = bytes[at]!;
    const opcode = first & 0x0f;
    const payloadBytes = payloadLengthAt(bytes, at);
    this.payloadRemaining = payloadBytes;
    this.observer?.({ opcode, payloadBytes, compressed: (first & 0x40) !== 0 });
    return opcode < firstControlOpcode && payloadBytes >= this.minPayloadBytes ? 1 : 0;
  }
}

/** Header bytes (2, extended length, mask key) announced by a header's second byte. */
function headerLengthFor(second: number): number {
  const length7 = second & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const mask = (second & 0x80) !== 0 ? 4 : 0;
  return 2 + extended + mask;
}

function payloadLengthAt(bytes: Buffer, at: number): number {
  const length7 = bytes[at + 1]! & 0x7f;
  if (length7 === 126) return bytes.readUInt16BE(at + 2);
  // 64-bit lengths beyond 2^53 cannot be real traffic; clamping keeps the arithmetic exact.
  if (length7 === 127) return Math.min(Number(bytes.readBigUInt64BE(at + 2)), Number.MAX_SAFE_INTEGER);
  return length7;
}
