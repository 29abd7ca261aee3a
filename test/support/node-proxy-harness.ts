import type { ContainerState } from '../../src/model/node.js';
import { EventEmitter } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { ActivityTracker } from '../../src/node-proxy/activity-tracker.js';
import type { ProxyAppOptions } from '../../src/node-proxy/proxy-app.js';
import { createProxyServer } from '../../src/node-proxy/proxy-app.js';
import { InMemoryRouteTable } from '../../src/node-proxy/route-table.js';
import {
  generateSigningKey,
  issueAccessToken,
  nodeAudience,
  SigningKeyRing,
} from '../../src/tokens/index.js';

/** What the fake container saw. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeContainer {
  port: number;
  seen: SeenRequest[];
  /** Payload sizes of WebSocket messages the container received. */
  wsMessages: number[];
  /** Emits `upgrade` with the request URL of each WebSocket the container accepted. */
  upgrades: EventEmitter;
  close(): Promise<void>;
}

/**
 * A tiny stand-in for code-server on loopback: echoes requests as JSON, sets cookies on
 * `/set-cookies`, and echoes WebSocket messages.
 */
export async function startFakeContainer(): Promise<FakeContainer> {
  const seen: SeenRequest[] = [];
  const wsMessages: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      const headers: [string, string][] = [['content-type', 'application/json']];
      if (req.url === '/set-cookies') {
        headers.push(
          ['set-cookie', 'codeyard_session_alpha=evil; Path=/'],
          ['set-cookie', '__Host-codeyard_session=evil; Path=/; Secure'],
          ['set-cookie', 'wide=1; Domain=localhost; Path=/'],
          ['set-cookie', 'workspace_pref=dark; Path=/'],
        );
      }
      res.writeHead(200, headers.flat());
      res.end(
        JSON.stringify({ url: entry.url, method: entry.method, headers: req.headers, body: entry.body }),
      );
    });
  });
  // Like code-server, the fake accepts permessage-deflate when offered.
  const wss = new WebSocketServer({ server, perMessageDeflate: true });
  const upgrades = new EventEmitter();
  wss.on('connection', (socket, request) => {
    upgrades.emit('upgrade', request.url);
    socket.on('message', (data: Buffer) => {
      wsMessages.push(data.length);
      socket.send(data);
    });
  });
  const port = await listen(server);
  return {
    port,
    seen,
    wsMessages,
    upgrades,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}

export async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bind one, then release it. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

export const nodeName = 'node-a';
export const fleetName = 'fleet-1';
export const sessionSecret = Buffer.alloc(32, 7);

export interface ProxyHarness {
  port: number;
  baseUrl: string;
  routes: InMemoryRouteTable;
  ring: SigningKeyRing;
  activity: ActivityTracker;
  server: Server;
  token(grant: { user: string; codespace: string; audience?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startProxy(
  overrides: Partial<Omit<ProxyAppOptions, 'config'>> & { config?: Partial<ProxyAppOptions['config']> } = {},
): Promise<ProxyHarness> {
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const routes = new InMemoryRouteTable();
  const activity = new ActivityTracker();
  const server = createProxyServer({
    routes,
    keys: ring.jwks(),
    sessionSecret,
    activity,
    ...overrides,
    config: {
      nodeName,
      fleet: fleetName,
      routingMode: 'path',
      nodeDomain: 'localhost',
      secureCookies: false,
      sessionTtlSeconds: 3600,
      activityMinFrameBytes: 48,
      ...overrides.config,
    },
  });
  const port = await listen(server);
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    routes: (overrides.routes as InMemoryRouteTable | undefined) ?? routes,
    ring,
    activity: overrides.activity ?? activity,
    server,
    token: (grant) =>
      issueAccessToken(ring, {
        user: grant.user,
        codespace: grant.codespace,
        audience: grant.audience ?? nodeAudience(nodeName),
      }),
    close: () => closeServer(server),
  };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  setCookies: string[];
  body: string;
}

/** One HTTP request with full control of headers (fetch would add and forbid some). */
export function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          setCookies: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and collects everything the server answers until it closes (or a time cap). */
export function rawExchange(port: number, payload: string, capMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), capMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString());
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    socket.write(payload);
  });
}

/** The `name=value` part of a Set-Cookie header, ready to send back as a Cookie header. */
export function cookiePair(setCookie: string): string {
  return setCookie.split(';')[0]!;
}

export function aRoute(
  overrides: Partial<{
    uid: string;
    owner: string;
    hostPort: number;
    ready: boolean;
    state: ContainerState;
  }> = {},
) {
  return { uid: 'uid-1', owner: 'alice', hostPort: 1, state: 'running' as const, ready: true, ...overrides };
}
