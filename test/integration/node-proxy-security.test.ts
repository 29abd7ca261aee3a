import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SessionCodec } from '../../src/node-proxy/session.js';
import {
  CachedKeySet,
  fleetAudience,
  issueAccessToken,
  issueApiToken,
  nodeAudience,
} from '../../src/tokens/index.js';
import {
  aRoute,
  closeServer,
  cookiePair,
  fleetName,
  httpGet,
  listen,
  rawExchange,
  sessionSecret,
  startFakeContainer,
  startProxy,
  type FakeContainer,
  type ProxyHarness,
} from '../support/node-proxy-harness.js';
import { proxyForwarders } from '../../src/node-proxy/config.js';

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

let upstream: FakeContainer;
let proxy: ProxyHarness;

/** Exchanges a token for a session cookie the way a browser does, returning `name=value`. */
async function sessionCookie(user: string, codespace: string): Promise<string> {
  const token = await proxy.token({ user, codespace });
  const answer = await httpGet(proxy.port, `/cs/${codespace}/?codeyard_token=${token}`);
  expect(answer.status).toBe(302);
  return cookiePair(answer.setCookies[0]!);
}

function openWebSocket(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    socket.on('open', () => resolve({ status: 101, socket }));
    socket.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
    });
    socket.on('error', () => resolve({ status: -1 }));
  });
}

function claimsFor(user: string, codespace: string, audience: string) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'codeyard', sub: user, cs: codespace, aud: audience, iat: now, nbf: now - 5, exp: now + 300 };
}

describe.each(proxyForwarders)('forwarder: %s', (forwarder) => {
  beforeAll(async () => {
    upstream = await startFakeContainer();
    proxy = await startProxy({ config: { forwarder } });
    proxy.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
    proxy.routes.set('beta', aRoute({ uid: 'uid-2', owner: 'bob', hostPort: upstream.port }));
  });

  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  describe('node proxy: access tokens', () => {
    it('refuses a token with alg none', async () => {
      const kid = proxy.ring.active.kid;
      const token = `${base64url({ alg: 'none', typ: 'codeyard-access+jwt', kid })}.${base64url(
        claimsFor('alice', 'alpha', nodeAudience('node-a')),
      )}.`;
      const answer = await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`);
      expect(answer.status).toBe(401);
      expect(answer.setCookies).toEqual([]);
    });

    it('refuses an HS256 token signed with the public key bytes', async () => {
      const jwk = proxy.ring.active.publicJwk;
      const signingInput = `${base64url({ alg: 'HS256', typ: 'codeyard-access+jwt', kid: jwk.kid })}.${base64url(
        claimsFor('alice', 'alpha', nodeAudience('node-a')),
      )}`;
      for (const secret of [
        Buffer.from(jwk.x!, 'base64url'),
        Buffer.from(JSON.stringify(jwk)),
        Buffer.from(jwk.x!),
      ]) {
        const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
        const answer = await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${signingInput}.${signature}`);
        expect(answer.status).toBe(401);
      }
    });

    it('refuses an expired token', async () => {
      const token = await issueAccessToken(
        proxy.ring,
        { user: 'alice', codespace: 'alpha', audience: nodeAudience('node-a') },
        { nowSeconds: Math.floor(Date.now() / 1000) - 3600, ttlSeconds: 300 },
      );
      expect((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).status).toBe(401);
    });

    it('refuses a token minted for another node', async () => {
      const token = await proxy.token({
        user: 'alice',
        codespace: 'alpha',
        audience: nodeAudience('node-b'),
      });
      expect((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).status).toBe(401);
    });

    it("accepts a token for this node's fleet", async () => {
      const token = await proxy.token({
        user: 'alice',
        codespace: 'alpha',
        audience: fleetAudience(fleetName),
      });
      expect((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).status).toBe(302);
    });

    it('refuses a token for one codespace used on another', async () => {
      const token = await proxy.token({ user: 'bob', codespace: 'alpha' });
      const answer = await httpGet(proxy.port, `/cs/beta/?codeyard_token=${token}`);
      expect(answer.status).toBe(401);
      expect(answer.setCookies).toEqual([]);
    });

    it('refuses a token of another kind (an API token)', async () => {
      const token = await issueApiToken(proxy.ring, { user: 'alice', role: 'admin' });
      expect((await httpGet(proxy.port, `/cs/alpha/?codeyard_token=${token}`)).status).toBe(401);
    });

    it('redirects to the same URL without the token, keeping the rest of the query', async () => {
      const token = await proxy.token({ user: 'alice', codespace: 'alpha' });
      const before = upstream.seen.length;
      const answer = await httpGet(proxy.port, `/cs/alpha/?folder=/home/coder&codeyard_token=${token}&tab=2`);
      expect(answer.status).toBe(302);
      expect(answer.headers.location).toBe('/cs/alpha/?folder=%2Fhome%2Fcoder&tab=2');
      expect(answer.headers['referrer-policy']).toBe('no-referrer');
      expect(answer.setCookies[0]).toMatch(
        /^codeyard_session_alpha=v1\..*; Path=\/cs\/alpha\/; .*HttpOnly; SameSite=Lax/,
      );
      expect(upstream.seen.length).toBe(before);
    });
  });

  describe('node proxy: session cookies', () => {
    it('refuses a tampered session cookie', async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const [name, value] = cookie.split('=') as [string, string];
      const [version, payload, mac] = value.split('.') as [string, string, string];
      const forgedPayload = Buffer.from(`bob\nalpha\n${Math.floor(Date.now() / 1000) + 999}`).toString(
        'base64url',
      );
      const flipped = `${payload.slice(0, -2)}${payload.at(-2) === 'A' ? 'B' : 'A'}${payload.at(-1)}`;
      for (const bad of [
        `${version}.${forgedPayload}.${mac}`,
        `${version}.${flipped}.${mac}`,
        `${version}.${payload}.`,
      ]) {
        const answer = await httpGet(proxy.port, '/cs/alpha/', { cookie: `${name}=${bad}` });
        expect(answer.status).toBe(401);
      }
    });

    it("refuses one codespace's session cookie presented for another", async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const value = cookie.split('=')[1]!;
      const answer = await httpGet(proxy.port, '/cs/beta/', { cookie: `codeyard_session_beta=${value}` });
      expect(answer.status).toBe(401);
    });

    it("answers another user's codespace with the same 404 as an unknown one", async () => {
      const codec = new SessionCodec(sessionSecret);
      const forBeta = codec.sign({ user: 'alice', codespace: 'beta', expiresAtMs: Date.now() + 60_000 });
      const forGamma = codec.sign({ user: 'alice', codespace: 'gamma', expiresAtMs: Date.now() + 60_000 });
      const others = await httpGet(proxy.port, '/cs/beta/', { cookie: `codeyard_session_beta=${forBeta}` });
      const unknown = await httpGet(proxy.port, '/cs/gamma/', {
        cookie: `codeyard_session_gamma=${forGamma}`,
      });
      expect(others.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(others.body).toBe(unknown.body);

      const tokenForBeta = await proxy.token({ user: 'alice', codespace: 'beta' });
      const tokenForGamma = await proxy.token({ user: 'alice', codespace: 'gamma' });
      const byToken = await httpGet(proxy.port, `/cs/beta/?codeyard_token=${tokenForBeta}`);
      const unknownByToken = await httpGet(proxy.port, `/cs/gamma/?codeyard_token=${tokenForGamma}`);
      expect(byToken.status).toBe(404);
      expect(byToken.body).toBe(unknownByToken.body);
    });

    it('refuses a request without token or cookie: HTML for browsers, JSON otherwise', async () => {
      const browser = await httpGet(proxy.port, '/cs/alpha/', { accept: 'text/html,*/*' });
      expect(browser.status).toBe(401);
      expect(browser.headers['content-type']).toContain('text/html');
      const script = await httpGet(proxy.port, '/cs/alpha/');
      expect(script.status).toBe(401);
      expect(JSON.parse(script.body)).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('keeps serving an existing session while the orchestrator is unreachable', async () => {
      const jwksServer = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(proxy.ring.jwks()));
      });
      const jwksPort = await listen(jwksServer);
      const keySet = new CachedKeySet({ url: `http://127.0.0.1:${jwksPort}/v1/jwks.json` });
      await keySet.start();
      const isolated = await startProxy({
        keys: keySet.getKey,
        sessionSecret: Buffer.alloc(32, 9),
        config: { forwarder },
      });
      try {
        isolated.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
        const token = await issueAccessToken(proxy.ring, {
          user: 'alice',
          codespace: 'alpha',
          audience: nodeAudience('node-a'),
        });
        const login = await httpGet(isolated.port, `/cs/alpha/?codeyard_token=${token}`);
        expect(login.status).toBe(302);
        await closeServer(jwksServer);
        expect(await keySet.refresh()).toBe(false);
        const answer = await httpGet(isolated.port, '/cs/alpha/files', {
          cookie: cookiePair(login.setCookies[0]!),
        });
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body).url).toBe('/files');
      } finally {
        keySet.stop();
        await isolated.close();
      }
    });
  });

  describe('node proxy: subdomain routing', () => {
    it("refuses another codespace's Host with this codespace's cookie", async () => {
      for (const secureCookies of [false, true]) {
        const sub = await startProxy({ config: { routingMode: 'subdomain', secureCookies, forwarder } });
        try {
          sub.routes.set('alpha', aRoute({ owner: 'alice', hostPort: upstream.port }));
          sub.routes.set('beta', aRoute({ owner: 'alice', hostPort: upstream.port }));
          const token = await sub.token({ user: 'alice', codespace: 'alpha' });
          const login = await httpGet(sub.port, `/?codeyard_token=${token}`, { host: 'alpha.localhost' });
          expect(login.status).toBe(302);
          const cookie = cookiePair(login.setCookies[0]!);
          expect(
            cookie.startsWith(secureCookies ? '__Host-codeyard_session=' : 'codeyard_session_alpha='),
          ).toBe(true);
          expect((await httpGet(sub.port, '/', { host: 'alpha.localhost', cookie })).status).toBe(200);
          expect((await httpGet(sub.port, '/', { host: 'beta.localhost', cookie })).status).toBe(401);
          // A sibling codespace's page is same-site: its WebSocket carries the cookie, Origin gives it away.
          const scheme = secureCookies ? 'https' : 'http';
          const fromSibling = await openWebSocket(sub.port, '/', {
            host: 'alpha.localhost',
            cookie,
            origin: `${scheme}://beta.localhost`,
          });
          expect(fromSibling.status).toBe(403);
          const fromItself = await openWebSocket(sub.port, '/', {
            host: 'alpha.localhost',
            cookie,
            origin: `${scheme}://alpha.localhost`,
          });
          expect(fromItself.status).toBe(101);
          fromItself.socket!.close();
        } finally {
          await sub.close();
        }
      }
    });
  });

  describe('node proxy: headers', () => {
    it('strips client-sent identity headers and the session cookie, and sets its own X-Forwarded-*', async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const answer = await httpGet(proxy.port, '/cs/alpha/echo', {
        cookie: `theme=dark; ${cookie}; codeyard_session_beta=x`,
        'x-forwarded-for': '10.9.9.9',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-prefix': '/evil',
        forwarded: 'for=10.9.9.9',
        'x-real-ip': '10.9.9.9',
        'x-codeyard-user': 'admin',
        connection: 'x-secret',
        'x-secret': 'hop',
      });
      expect(answer.status).toBe(200);
      const seen = JSON.parse(answer.body).headers as Record<string, string>;
      expect(seen.cookie).toBe('theme=dark');
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-host']).toBe(`127.0.0.1:${proxy.port}`);
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-prefix']).toBe('/cs/alpha');
      expect(seen.forwarded).toBeUndefined();
      expect(seen['x-real-ip']).toBeUndefined();
      expect(seen['x-codeyard-user']).toBeUndefined();
      expect(seen['x-secret']).toBeUndefined();
    });

    it("drops a workspace's Set-Cookie for the proxy's names or with a Domain", async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const answer = await httpGet(proxy.port, '/cs/alpha/set-cookies', { cookie });
      expect(answer.status).toBe(200);
      expect(answer.setCookies).toEqual(['workspace_pref=dark; Path=/']);
    });
  });

  describe('node proxy: WebSocket', () => {
    it('refuses a WebSocket from a foreign Origin with 403', async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const before = upstream.seen.length;
      for (const origin of ['https://evil.example', `http://beta.localhost:${proxy.port}`, 'null']) {
        const result = await openWebSocket(proxy.port, '/cs/alpha/ws', { cookie, origin });
        expect(result.status).toBe(403);
      }
      expect(upstream.seen.length).toBe(before);
    });

    it('refuses a WebSocket without authentication', async () => {
      const result = await openWebSocket(proxy.port, '/cs/alpha/ws', {
        origin: `http://127.0.0.1:${proxy.port}`,
      });
      expect(result.status).toBe(401);
    });

    it('opens a WebSocket from the codespace origin with a session', async () => {
      const cookie = await sessionCookie('alice', 'alpha');
      const result = await openWebSocket(proxy.port, '/cs/alpha/ws', {
        cookie,
        origin: `http://127.0.0.1:${proxy.port}`,
      });
      expect(result.status).toBe(101);
      result.socket!.close();
    });
  });

  describe('node proxy: request smuggling and path tricks', () => {
    async function rawToAlpha(head: string): Promise<string> {
      const cookie = await sessionCookie('alice', 'alpha');
      return rawExchange(proxy.port, head.replace('{cookie}', cookie));
    }

    function expectNoSmuggledRequest(): void {
      expect(upstream.seen.some((request) => request.url.includes('smuggled'))).toBe(false);
    }

    it('refuses a request with two Content-Length headers', async () => {
      const answer = await rawToAlpha(
        'POST /cs/alpha/a HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n' +
          'GET /cs/alpha/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expectNoSmuggledRequest();
    });

    it('refuses Transfer-Encoding chunked together with Content-Length', async () => {
      const answer = await rawToAlpha(
        'POST /cs/alpha/a HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '0\r\n\r\nGET /cs/alpha/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expectNoSmuggledRequest();
    });

    it('refuses obfuscated Transfer-Encoding headers', async () => {
      const variants = [
        'Transfer-Encoding: xchunked\r\n',
        'Transfer-Encoding : chunked\r\n',
        ' Transfer-Encoding: chunked\r\n',
        'Transfer-Encoding: chunked, identity\r\n',
      ];
      for (const variant of variants) {
        const answer = await rawToAlpha(
          `POST /cs/alpha/a HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nContent-Length: 4\r\n${variant}\r\n` +
            '0\r\n\r\nGET /cs/alpha/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        );
        expect(answer, variant).toMatch(/^HTTP\/1\.1 400 /);
      }
      expectNoSmuggledRequest();
    });

    it('refuses dot segments aimed at another codespace, plain or percent-encoded', async () => {
      const before = upstream.seen.length;
      for (const path of [
        '/cs/alpha/../beta/',
        '/cs/alpha/%2e%2e/beta/',
        '/cs/alpha/.%2E/beta/',
        '/cs/alpha/x/..',
      ]) {
        const answer = await rawToAlpha(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n`,
        );
        expect(answer, path).toMatch(/^HTTP\/1\.1 400 /);
      }
      expect(upstream.seen.length).toBe(before);
    });

    it('refuses request targets aimed at other ports', async () => {
      const before = upstream.seen.length;
      for (const target of ['//127.0.0.1:6379/', 'http://127.0.0.1:22/', 'http://127.0.0.1:22/cs/alpha/']) {
        const answer = await rawToAlpha(
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n`,
        );
        expect(answer, target).toMatch(/^HTTP\/1\.1 400 /);
      }
      const tunnel = await rawToAlpha(
        'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nCookie: {cookie}\r\n\r\n',
      );
      expect(tunnel).not.toMatch(/^HTTP\/1\.1 2/);
      expect(upstream.seen.length).toBe(before);
    });
  });
});
