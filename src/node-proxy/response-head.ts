/**
 * Parses a container's HTTP/1.x response head for the raw forwarder (upstream-raw.ts), strictly:
 * a response that could be read two ways (duplicate or malformed Content-Length, Transfer-Encoding
 * other than a single `chunked`, both together, folded or control-character header lines) is
 * refused, never guessed at, because a misread length mixes one answer into the next on a
 * pooled connection. Pure: bytes in, a description out.
 */

/** A response head larger than this is refused (502): code-server's are well under 2 KiB. */
export const maxResponseHeadBytes = 16_384;

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; bytes: number }
  | { kind: 'chunked' }
  /** Delimited by the container closing the connection (no length, not chunked). */
  | { kind: 'close' };

export interface ResponseHead {
  /** Bytes of the head including the blank line. */
  headBytes: number;
  status: number;
  statusMessage: string;
  /** `[name, value, name, value…]` as received (names keep their case). */
  rawHeaders: string[];
  framing: BodyFraming;
  /** The one Content-Length value (validated), when the head had one. */
  contentLength: number | undefined;
  /** The connection may carry another request after this response's body. */
  reusable: boolean;
}

export type ParsedHead =
  | { kind: 'incomplete' }
  | { kind: 'interim'; headBytes: number }
  | { kind: 'invalid'; reason: string }
  | ({ kind: 'head' } & ResponseHead);

const statusLine = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values may hold HT and visible characters (and obs-text), never other controls. */
const badValueCharacter = /[\x00-\x08\x0a-\x1f\x7f]/;
const digits = /^[0-9]{1,15}$/;
const headEnd = Buffer.from('\r\n\r\n');

function invalid(reason: string): ParsedHead {
  return { kind: 'invalid', reason };
}

/**
 * Reads one response head from the start of `buffer`. `requestMethod` decides framing (a HEAD
 * answer has no body whatever its headers say).
 */
export function parseResponseHead(buffer: Buffer, requestMethod: string): ParsedHead {
  const end = buffer.indexOf(headEnd);
  if (end === -1) {
    return buffer.length > maxResponseHeadBytes ? invalid('response head too large') : { kind: 'incomplete' };
  }
  if (end + headEnd.length > maxResponseHeadBytes) return invalid('response head too large');
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const status = statusLine.exec(lines[0]!);
  if (!status) return invalid('malformed status line');
  const minorVersion = status[1]!;
  const code = Number(status[2]);
  const headBytes = end + headEnd.length;
  if (code === 101) return invalid('protocol switch on a plain request');
  if (code < 200) return { kind: 'interim', headBytes };

  const rawHeaders: string[] = [];
  let contentLength: number | undefined;
  let chunked = false;
  let transferEncodingSeen = false;
  let connectionClose = false;
  let connectionKeepAlive = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // A leading space or tab is obsolete line folding (RFC 9112 §5.2): refused, not unfolded.
    if (colon <= 0) return invalid('malformed header line');
    const name = line.slice(0, colon);
    if (!token.test(name)) return invalid('malformed header name');
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (badValueCharacter.test(value)) return invalid('control character in header value');
    rawHeaders.push(name, value);
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      for (const part of value.split(',')) {
        const trimmed = part.trim();
        if (!digits.test(trimmed)) return invalid('malformed Content-Length');
        const bytes = Number(trimmed);
        if (contentLength !== undefined && contentLength !== bytes)
          return invalid('conflicting Content-Length');
        contentLength = bytes;
      }
    } else if (lower === 'transfer-encoding') {
      if (transferEncodingSeen || value.toLowerCase() !== 'chunked') {
        return invalid('unsupported Transfer-Encoding');
      }
      transferEncodingSeen = true;
      chunked = true;
    } else if (lower === 'connection') {
      for (const part of value.split(',')) {
        const option = part.trim().toLowerCase();
        if (option === 'close') connectionClose = true;
        else if (option === 'keep-alive') connectionKeepAlive = true;
      }
    }
  }
  if (chunked && contentLength !== undefined) return invalid('both Transfer-Encoding and Content-Length');

  let framing: BodyFraming;
  if (requestMethod === 'HEAD' || code === 204 || code === 304) framing = { kind: 'none' };
  else if (chunked) framing = { kind: 'chunked' };
  else if (contentLength !== undefined) framing = { kind: 'length', bytes: contentLength };
  else framing = { kind: 'close' };
  const persistent = minorVersion === '1' ? !connectionClose : connectionKeepAlive && !connectionClose;
  return {
    kind: 'head',
    headBytes,
    status: code,
    statusMessage: status[3] ?? '',
    rawHeaders,
    framing,
    contentLength,
    reusable: persistent && framing.kind !== 'close',
  };
}
