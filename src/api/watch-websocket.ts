import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import type { Store } from '../store/store.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { apiAudience, type ApiRole } from '../tokens/token-kinds.js';
import { verifyToken } from '../tokens/verify-token.js';
import { canAccess, type Principal } from './principal.js';
import { tokenKeyFor } from './api-authentication.js';

export const watchWebSocketPath = '/v1/watch/codespaces';
export const watchSubprotocol = 'codeyard.watch.v1';
const tokenSubprotocolPrefix = 'codeyard.token.';
/** Bytes queued for a slow browser before we drop it; it resumes from its last version. */
export const watchSocketBufferedBytesMax = 4 * 1024 * 1024;
const bookmarkIntervalMsDefault = 15_000;

/** One JSON text per event, shared by every socket that sees it (the hub's events are shared objects). */
const eventTexts = new WeakMap<object, string>();
function watchEventText(event: WatchEvent): string {
  let text = eventTexts.get(event);
  if (text === undefined) {
    text = JSON.stringify({ type: event.type, resourceVersion: event.resourceVersion, object: event.object });
    eventTexts.set(event, text);
  }
  return text;
}

export interface WatchWebSocketOptions {
  store: Store;
  keyRing: SigningKeyRing;
  bookmarkIntervalMs?: number;
  bufferLimit?: number;
}

/**
 * The watch stream over a WebSocket, for the web UI: browsers allow six HTTP/1.1 connections
 * per origin and an SSE stream per tab exhausts them. Browsers cannot set an Authorization
 * header on a WebSocket, so the API token travels as a subprotocol (`codeyard.token.<jwt>`)
 * beside `codeyard.watch.v1`, which the server selects. Messages are JSON:
 * `{ type: ADDED|MODIFIED|DELETED, resourceVersion, object }`, `{ type: BOOKMARK, resourceVersion }`
 * and `{ type: ERROR, code, message }` (then the socket closes).
 */
export function registerWatchWebSocket(app: FastifyInstance, options: WatchWebSocketOptions): void {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    handleProtocols: (protocols) => (protocols.has(watchSubprotocol) ? watchSubprotocol : false),
  });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== watchWebSocketPath) {
      // Nothing else on the orchestrator speaks WebSocket; an unanswered upgrade would hang.
      if (app.server.listenerCount('upgrade') === 1)
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    void authenticate(request, options.keyRing).then(
      (principal) =>
        server.handleUpgrade(request, socket, head, (ws) => {
          void streamEvents(ws, principal, url.searchParams.get('resourceVersion'), options);
        }),
      () => {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      },
    );
  };
  app.server.on('upgrade', onUpgrade);
  app.addHook('onClose', async () => {
    app.server.off('upgrade', onUpgrade);
    for (const client of server.clients) client.terminate();
    server.close();
  });
}

async function authenticate(request: IncomingMessage, keyRing: SigningKeyRing): Promise<Principal> {
  const offered = String(request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const credential = offered
    .find((p) => p.startsWith(tokenSubprotocolPrefix))
    ?.slice(tokenSubprotocolPrefix.length);
  if (!credential || !offered.includes(watchSubprotocol))
    throw new CodeyardError('UNAUTHENTICATED', 'missing token');
  const payload = await verifyToken(credential, { kind: 'api', audience: apiAudience, keys: keyRing.jwks() });
  if (typeof payload.sub !== 'string' || (payload.role !== 'user' && payload.role !== 'admin')) {
    throw new CodeyardError('UNAUTHENTICATED', 'invalid token claims');
  }
  return { user: payload.sub, role: payload.role as ApiRole, tokenKey: tokenKeyFor(credential) };
}

async function streamEvents(
  ws: WebSocket,
  principal: Principal,
  resourceVersionParam: string | null,
  options: WatchWebSocketOptions,
): Promise<void> {
  const abort = new AbortController();
  ws.on('close', () => abort.abort());
  ws.on('error', () => abort.abort());
  // A slow client cannot make us buffer without bound: it is dropped and reconnects from its last version.
  const send = (message: unknown) => sendText(JSON.stringify(message));
  const sendText = (text: string) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > watchSocketBufferedBytesMax) {
      ws.close(1013, 'too slow; resume from your last resourceVersion');
      abort.abort();
      return;
    }
    ws.send(text);
  };
  const fail = (code: string, message: string) => {
    send({ type: 'ERROR', code, message });
    ws.close(1008, code);
    abort.abort();
  };
  if (resourceVersionParam !== null && !/^[0-9]{1,15}$/.test(resourceVersionParam)) {
    fail('VALIDATION_FAILED', 'resourceVersion must be a non-negative integer');
    return;
  }
  let lastVersion = Number(resourceVersionParam ?? (await options.store.currentResourceVersion()));
  const bookmarks = setInterval(
    () => send({ type: 'BOOKMARK', resourceVersion: lastVersion }),
    options.bookmarkIntervalMs ?? bookmarkIntervalMsDefault,
  );
  try {
    for await (const batch of options.store.watchCodespaceBatches({
      fromResourceVersion: lastVersion,
      signal: abort.signal,
      ...(options.bufferLimit ? { bufferLimit: options.bufferLimit } : {}),
    })) {
      for (const event of batch) {
        lastVersion = event.resourceVersion;
        if (canAccess(principal, event.object)) sendText(watchEventText(event));
      }
    }
    // The store cut us off (we fell behind) or the client left: either way the client resumes.
    if (!abort.signal.aborted) ws.close(1013, 'resume from your last resourceVersion');
  } catch (error) {
    if (error instanceof CodeyardError) fail(error.code, error.message);
    else fail('INTERNAL', 'watch failed');
  } finally {
    clearInterval(bookmarks);
  }
}
