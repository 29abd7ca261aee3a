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
/**
 * Characters no head may hold, checked once over the whole head instead of per line: controls
 * other than HT (field values may hold HT, visible characters and obs-text), and CR or LF
 * anywhere but together as a line end.
 */
const forbiddenInHead = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const digits = /^[0-9]{1,15}$/;
const headEnd = Buffer.from('\r\n\r\n');
const space = 0x20;
const tab = 0x09;

/** tchar (RFC 9110 §5.6.2) by character code: a header name holds these and nothing else. */
const tokenCharacters = new Uint8Array(128);
for (const character of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  tokenCharacters[character.charCodeAt(0)] = 1;
}

function isToken(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || tokenCharacters[code] === 0) return false;
  }
  return true;
}

function invalid(reason: string): ParsedHead {
  return { kind: 'invalid', reason };
}

/**
 * Reads one response head from the start of `buffer`. `requestMethod` decides framing (a HEAD
 * answer has no body whatever its headers say). Written for the per-request cost: one regex
 * over the whole head, then lines and fields found by index, each name lower-cased only when
 * its length says it may be one of the three that decide framing.
 */
export function parseResponseHead(buffer: Buffer, requestMethod: string): ParsedHead {
  const end = buffer.indexOf(headEnd);
  if (end === -1) {
    return buffer.length > maxResponseHeadBytes ? invalid('response head too large') : { kind: 'incomplete' };
  }
  if (end + headEnd.length > maxResponseHeadBytes) return invalid('response head too large');
  const text = buffer.toString('latin1', 0, end);
  if (forbiddenInHead.test(text)) return invalid('control character in response head');
  const statusEnd = text.indexOf('\r\n');
  const status = statusLine.exec(statusEnd === -1 ? text : text.slice(0, statusEnd));
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
  let lineStart = statusEnd === -1 ? text.length : statusEnd + 2;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const colon = text.indexOf(':', lineStart);
    // A leading space or tab is obsolete line folding (RFC 9112 §5.2): refused, not unfolded.
    if (colon <= lineStart || colon > lineEnd) return invalid('malformed header line');
    if (!isToken(text, lineStart, colon)) return invalid('malformed header name');
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isBlank(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isBlank(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const name = text.slice(lineStart, colon);
    const value = text.slice(valueStart, valueEnd);
    rawHeaders.push(name, value);
    lineStart = lineEnd + 2;
    switch (name.length) {
      case 14: // content-length
        if (name.toLowerCase() !== 'content-length') break;
        for (const part of value.split(',')) {
          const trimmed = part.trim();
          if (!digits.test(trimmed)) return invalid('malformed Content-Length');
          const bytes = Number(trimmed);
          if (contentLength !== undefined && contentLength !== bytes)
            return invalid('conflicting Content-Length');
          contentLength = bytes;
        }
        break;
      case 17: // transfer-encoding
        if (name.toLowerCase() !== 'transfer-encoding') break;
        if (transferEncodingSeen || value.toLowerCase() !== 'chunked') {
          return invalid('unsupported Transfer-Encoding');
        }
        transferEncodingSeen = true;
        chunked = true;
        break;
      case 10: // connection
        if (name.toLowerCase() !== 'connection') break;
        for (const part of value.split(',')) {
          const option = part.trim().toLowerCase();
          if (option === 'close') connectionClose = true;
          else if (option === 'keep-alive') connectionKeepAlive = true;
        }
        break;
    }
  }
  if (chunked && contentLength !== undefined) return invalid('both Transfer-Encoding and Content-Length');

  let framing: BodyFraming;
  if (requestMethod === 'HEAD' || code === 204 || code === 304) framing = noBody;
  else if (chunked) framing = chunkedBody;
  else if (contentLength !== undefined) framing = { kind: 'length', bytes: contentLength };
  else framing = closeDelimited;
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

const noBody: BodyFraming = { kind: 'none' };
const chunkedBody: BodyFraming = { kind: 'chunked' };
const closeDelimited: BodyFraming = { kind: 'close' };

function isBlank(code: number): boolean {
  return code === space || code === tab;
}
