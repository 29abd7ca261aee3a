import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../model/errors.js';

/** How long the "starting…" page waits before reloading itself. */
export const startingPageRefreshSeconds = 2;

export type ProxyAnswer =
  'unauthenticated' | 'not-found' | 'bad-request' | 'starting' | 'stopping' | 'bad-gateway' | 'forbidden';

const answers: Record<ProxyAnswer, { status: number; code: ErrorCode; title: string; message: string }> = {
  unauthenticated: {
    status: 401,
    code: 'UNAUTHENTICATED',
    title: 'Sign in required',
    message: 'Your session is missing or has expired. Open this codespace again from codeyard.',
  },
  'not-found': {
    status: 404,
    code: 'CODESPACE_NOT_FOUND',
    title: 'Codespace not running here',
    message:
      'No codespace of yours is running at this address. If it is stopped, start it again from codeyard (your files are kept) and open it from there.',
  },
  'bad-request': {
    status: 400,
    code: 'VALIDATION_FAILED',
    title: 'Bad request',
    message: 'The request was malformed.',
  },
  starting: {
    status: 503,
    code: 'STORE_UNAVAILABLE',
    title: 'Starting…',
    message: 'Your codespace is starting. This page reloads by itself.',
  },
  stopping: {
    status: 503,
    code: 'CODESPACE_NOT_RUNNING',
    title: 'Stopping…',
    message:
      'This codespace is stopping. Your files are kept; start it again from codeyard once it has stopped.',
  },
  'bad-gateway': {
    status: 502,
    code: 'INTERNAL',
    title: 'Codespace not answering',
    message: 'The codespace did not accept the connection. It may be restarting; try again shortly.',
  },
  forbidden: {
    status: 403,
    code: 'FORBIDDEN',
    title: 'Forbidden',
    message: 'This origin may not connect here.',
  },
};

function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/html');
}

function page(answer: ProxyAnswer): string {
  const { title, message } = answers[answer];
  const refresh =
    answer === 'starting' ? `<meta http-equiv="refresh" content="${startingPageRefreshSeconds}">` : '';
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">${refresh}<title>${title}</title></head>` +
    `<body style="font-family:system-ui,sans-serif;margin:4rem auto;max-width:36rem">` +
    `<h1>${title}</h1><p>${message}</p></body></html>`
  );
}

/** Answers an HTTP request the proxy itself refuses: HTML for browsers, JSON otherwise. */
export function sendAnswer(response: ServerResponse, answer: ProxyAnswer, accept: string | undefined): void {
  const { status, code, message } = answers[answer];
  const html = wantsHtml(accept);
  const body = html ? page(answer) : JSON.stringify({ code, message });
  response.writeHead(status, {
    'content-type': html ? 'text/html; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(answer === 'starting' ? { 'retry-after': String(startingPageRefreshSeconds) } : {}),
    // A malformed request may have left the connection out of step: never reuse it.
    ...(answer === 'bad-request' ? { connection: 'close' } : {}),
  });
  response.end(body);
}

/** Answers a refused WebSocket upgrade on the raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, answer: ProxyAnswer): void {
  const { status, code, message } = answers[answer];
  const body = JSON.stringify({ code, message });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

export function redirect(response: ServerResponse, location: string, setCookie?: string): void {
  response.writeHead(302, {
    location,
    'cache-control': 'no-store',
    // The token was in the URL: keep it out of Referer headers the next page might send.
    'referrer-policy': 'no-referrer',
    'content-length': 0,
    ...(setCookie ? { 'set-cookie': setCookie } : {}),
  });
  response.end();
}
