/**
 * Decodes a chunked response body (RFC 9112 §7.1) fed in arbitrary pieces, strictly: sizes are
 * hex digits only (no sign, no spaces, at most `maxChunkSizeDigits`), every chunk ends with
 * CRLF, size and trailer lines are bounded. Anything else is an error, and the connection it
 * came from must not be reused. Trailers are read and dropped. Pure: no I/O.
 */

/** 13 hex digits reach 2^52: larger chunks are not real traffic and would lose precision. */
export const maxChunkSizeDigits = 13;
/** A size line with extensions, or one trailer line, longer than this is refused. */
export const maxChunkLineBytes = 4_096;
/** All trailer lines together. */
export const maxTrailerBytes = 16_384;

const enum State {
  Size,
  SizeExtension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

export type ChunkedResult =
  /** `consumed` bytes of the input were body framing or data; `done` once the last chunk and trailers are in. */
  { ok: true; consumed: number; done: boolean } | { ok: false; reason: string };

export class ChunkedDecoder {
  private state = State.Size;
  private size = 0;
  private sizeDigits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;

  /**
   * Consumes bytes from `input` starting at `offset`; chunk data is handed to `onData` as
   * subarrays of `input` (valid only until the caller reuses it). Stops at the end of the body:
   * bytes after it are not consumed.
   */
  push(input: Buffer, offset: number, onData: (data: Buffer) => void): ChunkedResult {
    let i = offset;
    while (i < input.length && this.state !== State.Done) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.size, input.length - i);
          onData(input.subarray(i, i + take));
          this.size -= take;
          i += take;
          if (this.size === 0) this.state = State.DataCr;
          continue;
        }
        case State.Size: {
          const digit = hexValue(input[i]!);
          if (digit >= 0) {
            if (++this.sizeDigits > maxChunkSizeDigits) return { ok: false, reason: 'chunk size too large' };
            this.size = this.size * 16 + digit;
          } else if (this.sizeDigits === 0) {
            return { ok: false, reason: 'malformed chunk size' };
          } else if (input[i] === 0x0d) {
            this.state = State.SizeLf;
          } else if (input[i] === 0x3b /* ; */) {
            this.state = State.SizeExtension;
          } else {
            return { ok: false, reason: 'malformed chunk size' };
          }
          break;
        }
        case State.SizeExtension: {
          // Extensions are skipped, within a bound; bare CR or LF inside is malformed.
          if (++this.lineBytes > maxChunkLineBytes) return { ok: false, reason: 'chunk extension too long' };
          if (input[i] === 0x0d) this.state = State.SizeLf;
          else if (input[i] === 0x0a) return { ok: false, reason: 'bare LF in chunk size line' };
          break;
        }
        case State.SizeLf: {
          if (input[i] !== 0x0a) return { ok: false, reason: 'chunk size line without CRLF' };
          this.lineBytes = 0;
          this.sizeDigits = 0;
          this.state = this.size === 0 ? State.TrailerLineStart : State.Data;
          break;
        }
        case State.DataCr: {
          if (input[i] !== 0x0d) return { ok: false, reason: 'chunk longer than its size' };
          this.state = State.DataLf;
          break;
        }
        case State.DataLf: {
          if (input[i] !== 0x0a) return { ok: false, reason: 'chunk without CRLF' };
          this.state = State.Size;
          break;
        }
        case State.TrailerLineStart: {
          if (input[i] === 0x0d) {
            this.state = State.FinalLf;
          } else {
            this.lineBytes = 0;
            this.state = State.TrailerLine;
            continue; // re-read this byte as part of the line
          }
          break;
        }
        case State.TrailerLine: {
          if (++this.lineBytes > maxChunkLineBytes || ++this.trailerBytes > maxTrailerBytes) {
            return { ok: false, reason: 'trailers too large' };
          }
          if (input[i] === 0x0d) this.state = State.TrailerLf;
          else if (input[i] === 0x0a) return { ok: false, reason: 'bare LF in trailer' };
          break;
        }
        case State.TrailerLf: {
          if (input[i] !== 0x0a) return { ok: false, reason: 'trailer line without CRLF' };
          this.state = State.TrailerLineStart;
          break;
        }
        case State.FinalLf: {
          if (input[i] !== 0x0a) return { ok: false, reason: 'last chunk without CRLF' };
          this.state = State.Done;
          break;
        }
      }
      i++;
    }
    return { ok: true, consumed: i - offset, done: this.state === State.Done };
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}
