import { createServer, type IncomingMessage } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { ActivityReporter } from '../../src/node-proxy/activity-reporter.js';
import { ActivityTracker } from '../../src/node-proxy/activity-tracker.js';
import { LocalKvReader } from '../../src/node-agent/local-kv-reader.js';
import {
  localKvFileName,
  localKvFormat,
  type LocalKvDocument,
} from '../../src/node-agent/local-kv-format.js';
import {
  aRoute,
  closeServer,
  cookiePair,
  httpGet,
  listen,
  refusedPort,
  startFakeContainer,
  startProxy,
  type FakeContainer,
  type ProxyHarness,
} from '../support/node-proxy-harness.js';
import { proxyForwarders } from '../../src/node-proxy/config.js';

let upstream: FakeContainer;
let proxy: ProxyHarness;
let clockMs = Date.now();

async function sessionCookie(codespace: string, user = 'alice'): Promise<string> {
  const token = await proxy.token({ user, codespace });
  const answer = await httpGet(proxy.port, `/cs/${codespace}/?codeyard_token=${token}`);
  expect(answer.status).toBe(302);
  return cookiePair(answer.setCookies[0]!);
}

function connectWebSocket(path: string, cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}${path}`, {
      headers: { cookie, origin: `http://127.0.0.1:${proxy.port}` },
      perMessageDeflate: false,
    });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res: IncomingMessage) =>
      reject(new Error(`status ${res.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

function nextMessage(socket: WebSocket): Promise<Buffer> {
  return new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(data)));
}

describe.each(proxyForwarders)('forwarder: %s', (forwarder) => {
  beforeAll(async () => {
    upstream = await startFakeContainer();
    proxy = await startProxy({ nowMs: () => clockMs, config: { forwarder } });
    proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
  });

  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  describe('node proxy: HTTP', () => {
    it('forwards a request with its body, method and query, prefix stripped', async () => {
      const cookie = await sessionCookie('alpha');
      const response = await fetch(`${proxy.baseUrl}/cs/alpha/api/save?x=1`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'text/plain' },
        body: 'hello world',
      });
      expect(response.status).toBe(200);
      const seen = (await response.json()) as { url: string; method: string; body: string };
      expect(seen).toMatchObject({ url: '/api/save?x=1', method: 'POST', body: 'hello world' });
    });

    it('redirects /cs/{name} to /cs/{name}/ keeping the query string', async () => {
      const answer = await httpGet(proxy.port, '/cs/alpha?folder=/work&codeyard_token=abc');
      expect(answer.status).toBe(302);
      expect(answer.headers.location).toBe('/cs/alpha/?folder=/work&codeyard_token=abc');
    });

    it('answers its health check', async () => {
      const answer = await httpGet(proxy.port, '/healthz');
      expect(answer.status).toBe(200);
    });

    it('answers 503 with a self-refreshing page while the container starts', async () => {
      const cookie = await sessionCookie('alpha');
      proxy.routes.set(
        'alpha',
        aRoute({ owner: 'alice', hostPort: upstream.port, state: 'creating', ready: false }),
      );
      try {
        const answer = await httpGet(proxy.port, '/cs/alpha/', { cookie, accept: 'text/html' });
        expect(answer.status).toBe(503);
        expect(answer.body).toContain('http-equiv="refresh"');
        expect(answer.body).toContain('Starting');
      } finally {
        proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
      }
    });

    it('answers 503 with a stopping page, not a starting one, while the container stops', async () => {
      const cookie = await sessionCookie('alpha');
      proxy.routes.set(
        'alpha',
        aRoute({ owner: 'alice', hostPort: upstream.port, state: 'stopping', ready: false }),
      );
      try {
        const answer = await httpGet(proxy.port, '/cs/alpha/', { cookie, accept: 'text/html' });
        expect(answer.status).toBe(503);
        expect(answer.body).toContain('Stopping');
        // A stopping codespace does not come back by itself: reloading would only repeat this page.
        expect(answer.body).not.toContain('http-equiv="refresh"');
        await expect(connectWebSocket('/cs/alpha/ws', cookie)).rejects.toThrow('status 503');
      } finally {
        proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
      }
    });

    it('answers 502 when the container refuses the connection', async () => {
      const cookie = await sessionCookie('alpha');
      proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: await refusedPort() }));
      try {
        expect((await httpGet(proxy.port, '/cs/alpha/', { cookie })).status).toBe(502);
        await expect(connectWebSocket('/cs/alpha/ws', cookie)).rejects.toThrow('status 502');
      } finally {
        proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
      }
    });

    it('re-issues the session cookie once it is past half its life', async () => {
      const cookie = await sessionCookie('alpha');
      expect((await httpGet(proxy.port, '/cs/alpha/', { cookie })).setCookies).toEqual([]);
      clockMs += 40 * 60_000; // the harness session lives 60 minutes
      try {
        const answer = await httpGet(proxy.port, '/cs/alpha/', { cookie });
        expect(answer.status).toBe(200);
        expect(answer.setCookies[0]).toMatch(/^codeyard_session_alpha=v1\./);
        clockMs += 30 * 60_000;
        expect((await httpGet(proxy.port, '/cs/alpha/', { cookie })).status).toBe(401);
        expect(
          (await httpGet(proxy.port, '/cs/alpha/', { cookie: cookiePair(answer.setCookies[0]!) })).status,
        ).toBe(200);
      } finally {
        clockMs = Date.now();
      }
    });
  });

  describe('node proxy: WebSocket', () => {
    it('tunnels messages both ways', async () => {
      const socket = await connectWebSocket('/cs/alpha/ws?reconnectionToken=1', await sessionCookie('alpha'));
      const reply = nextMessage(socket);
      socket.send(Buffer.alloc(100_000, 1));
      expect((await reply).length).toBe(100_000);
      const text = nextMessage(socket);
      socket.send('ping from client');
      expect((await text).toString()).toBe('ping from client');
      socket.close();
    });

    it('accepts an access token on the upgrade itself and does not forward it', async () => {
      const token = await proxy.token({ user: 'alice', codespace: 'alpha' });
      const before = upstream.seen.length;
      const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/cs/alpha/ws?x=1&codeyard_token=${token}`, {
        headers: { origin: `http://127.0.0.1:${proxy.port}` },
      });
      const upgradeUrl = new Promise<string>((resolve) =>
        upstream.upgrades.once('upgrade', (url: string) => resolve(url)),
      );
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      expect(await upgradeUrl).toBe('/ws?x=1');
      expect(upstream.seen.length).toBe(before);
      socket.close();
    });

    it('does not negotiate permessage-deflate, so frame sizes stay measurable', async () => {
      const cookie = await sessionCookie('alpha');
      const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/cs/alpha/ws`, {
        headers: { cookie, origin: `http://127.0.0.1:${proxy.port}` },
        perMessageDeflate: true,
      });
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      expect(socket.extensions).toBe('');
      socket.close();
    });

    it('survives clients that vanish mid-stream', async () => {
      const cookie = await sessionCookie('alpha');
      for (let i = 0; i < 5; i++) {
        const socket = await connectWebSocket('/cs/alpha/ws', cookie);
        socket.send(Buffer.alloc(50_000, 2));
        socket.terminate();
      }
      const socket = await connectWebSocket('/cs/alpha/ws', cookie);
      const reply = nextMessage(socket);
      socket.send('still here');
      expect((await reply).toString()).toBe('still here');
      socket.close();
    });
  });

  describe('node proxy: activity', () => {
    let agentServer: ReturnType<typeof createServer>;
    let agentPort: number;
    let dataDir: string;
    const reports: { authorization: string | undefined; body: unknown }[] = [];

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'codeyard-proxy-'));
      await writeFile(join(dataDir, 'proxy-secret'), 'node-local-secret\n');
      agentServer = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          if (req.method === 'POST' && req.url === '/v1/activity') {
            reports.push({
              authorization: req.headers.authorization,
              body: JSON.parse(Buffer.concat(chunks).toString()),
            });
            res.writeHead(204).end();
          } else res.writeHead(404).end();
        });
      });
      agentPort = await listen(agentServer);
    });

    afterAll(async () => {
      await closeServer(agentServer);
      await rm(dataDir, { recursive: true, force: true });
    });

    it('posts lastActivity to the agent with the node-local secret', async () => {
      const cookie = await sessionCookie('alpha');
      proxy.activity.drain();
      const reporter = new ActivityReporter({
        tracker: proxy.activity,
        agentUrl: `http://127.0.0.1:${agentPort}`,
        secretFile: join(dataDir, 'proxy-secret'),
        intervalMs: 60_000,
      });
      await httpGet(proxy.port, '/cs/alpha/', { cookie });
      expect(await reporter.flush()).toBe(true);
      expect(reports.at(-1)).toEqual({
        authorization: 'Bearer node-local-secret',
        body: { lastActivity: { alpha: new Date(clockMs).toISOString() } },
      });
      const count = reports.length;
      expect(await reporter.flush()).toBe(true);
      expect(reports.length).toBe(count);
    });

    it('keeps activity for the next report when the agent is down', async () => {
      const tracker = new ActivityTracker();
      const reporter = new ActivityReporter({
        tracker,
        agentUrl: `http://127.0.0.1:${await refusedPort()}`,
        secretFile: join(dataDir, 'proxy-secret'),
        intervalMs: 60_000,
      });
      tracker.touch('alpha', 1_000);
      expect(await reporter.flush()).toBe(false);
      expect(tracker.drain()).toEqual(new Map([['alpha', 1_000]]));
    });

    it('counts client WebSocket messages but not keep-alive-sized frames or pings', async () => {
      const cookie = await sessionCookie('alpha');
      const socket = await connectWebSocket('/cs/alpha/ws', cookie);
      proxy.activity.drain();
      for (let i = 0; i < 5; i++) {
        const echoed = nextMessage(socket);
        socket.send(Buffer.alloc(13, 9)); // VS Code KeepAlive / Ack size
        await echoed;
        socket.ping();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(proxy.activity.drain().size).toBe(0);

      const echoed = nextMessage(socket);
      socket.send(JSON.stringify({ type: 'keystroke', text: 'hello, this is a person typing' }));
      await echoed;
      expect(proxy.activity.drain().has('alpha')).toBe(true);
      socket.close();
    });
  });

  describe("node proxy: routes from the node agent's KV file", () => {
    it('routes by the kv.json the agent writes, following its updates', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'codeyard-proxy-kv-'));
      const document = (ready: boolean): LocalKvDocument => ({
        format: localKvFormat,
        version: ready ? 2 : 1,
        nodeName: 'node-a',
        writtenAt: new Date().toISOString(),
        draining: false,
        codespaces: {
          alpha: {
            uid: 'uid-kv',
            owner: 'alice',
            hostPort: upstream.port,
            state: 'running',
            ready,
            generation: 1,
            epoch: 1,
          },
        },
        users: { alice: ['alpha'] },
        freePorts: [],
      });
      await writeFile(join(dataDir, localKvFileName), JSON.stringify(document(false)));
      const reader = new LocalKvReader({ dataDir, pollIntervalMs: 50 });
      await reader.start();
      const kvProxy = await startProxy({ routes: reader, config: { forwarder } });
      try {
        const token = await kvProxy.token({ user: 'alice', codespace: 'alpha' });
        const login = await httpGet(kvProxy.port, `/cs/alpha/?codeyard_token=${token}`);
        const cookie = cookiePair(login.setCookies[0]!);
        expect((await httpGet(kvProxy.port, '/cs/alpha/', { cookie })).status).toBe(503);
        await writeFile(join(dataDir, `${localKvFileName}.tmp`), JSON.stringify(document(true)));
        await rename(join(dataDir, `${localKvFileName}.tmp`), join(dataDir, localKvFileName));
        const deadline = Date.now() + 5_000;
        while (reader.version < 2 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20));
        expect((await httpGet(kvProxy.port, '/cs/alpha/', { cookie })).status).toBe(200);
      } finally {
        reader.stop();
        await kvProxy.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('node proxy: HTTPS', () => {
    it('serves TLS with a __Host- Secure session cookie and wss:// tunnels', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'codeyard-proxy-tls-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=localhost',
            '-addext',
            'subjectAltName=DNS:localhost,DNS:alpha.localhost',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        const cert = await readFile(join(dir, 'cert.pem'));
        const tlsProxy = await startProxy({
          tls: { cert, key: await readFile(join(dir, 'key.pem')) },
          config: { routingMode: 'subdomain', secureCookies: true, forwarder },
        });
        try {
          tlsProxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
          const token = await tlsProxy.token({ user: 'alice', codespace: 'alpha' });
          const get = (path: string, headers: Record<string, string>) =>
            new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
              const req = httpsRequest(
                {
                  host: '127.0.0.1',
                  port: tlsProxy.port,
                  path,
                  headers,
                  servername: 'alpha.localhost',
                  ca: cert,
                },
                (res) => {
                  res.resume();
                  res.on('end', () =>
                    resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }),
                  );
                },
              );
              req.on('error', reject);
              req.end();
            });
          const host = `alpha.localhost:${tlsProxy.port}`;
          const login = await get(`/?codeyard_token=${token}`, { host });
          expect(login.status).toBe(302);
          expect(login.setCookie[0]).toMatch(
            /^__Host-codeyard_session=v1\.[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure$/,
          );
          const cookie = cookiePair(login.setCookie[0]!);
          expect((await get('/', { host, cookie })).status).toBe(200);

          // ws hands these options to https.request; its types omit `servername`.
          const tlsOptions: ClientOptions & { servername: string } = {
            headers: { host, cookie, origin: `https://${host}` },
            servername: 'alpha.localhost',
            ca: cert,
          };
          const socket = new WebSocket(`wss://127.0.0.1:${tlsProxy.port}/ws`, tlsOptions);
          await new Promise((resolve, reject) => {
            socket.once('open', resolve);
            socket.once('error', reject);
          });
          const reply = nextMessage(socket);
          socket.send('over tls');
          expect((await reply).toString()).toBe('over tls');
          socket.close();
        } finally {
          await tlsProxy.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
