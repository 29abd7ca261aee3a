import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveInstanceId } from '../../../src/fleet/aws/instance-identity.js';

const token = 'AQAEAFake-token==';
let server: Server | undefined;
const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];

/** A loopback stand-in for IMDSv2: refuses any metadata GET that does not carry its token. */
async function fakeImds(instanceId: string, behaviour: { tokenStatus?: number } = {}): Promise<string> {
  seen.length = 0;
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      return void res.writeHead(behaviour.tokenStatus ?? 200).end(token);
    }
    if (req.method === 'GET' && req.url === '/latest/meta-data/instance-id') {
      if (req.headers['x-aws-ec2-metadata-token'] !== token) return void res.writeHead(401).end();
      return void res.writeHead(200).end(instanceId);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('resolveInstanceId', () => {
  it('asks IMDSv2 for a token, then the instance id with that token', async () => {
    const base = await fakeImds('i-0123456789abcdef0');
    expect(await resolveInstanceId({ imdsBaseUrl: base })).toBe('i-0123456789abcdef0');
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT /latest/api/token',
      'GET /latest/meta-data/instance-id',
    ]);
  });

  it('uses the configured instance id without asking IMDS', async () => {
    const base = await fakeImds('i-0123456789abcdef0');
    expect(await resolveInstanceId({ instanceId: 'local-7', imdsBaseUrl: base })).toBe('local-7');
    expect(seen).toEqual([]);
  });

  it('fails with a message that says to configure the name when IMDS refuses a token', async () => {
    const base = await fakeImds('i-0123456789abcdef0', { tokenStatus: 403 });
    await expect(resolveInstanceId({ imdsBaseUrl: base })).rejects.toMatchObject({
      code: 'FLEET_UNAVAILABLE',
      message: expect.stringContaining('set the node name in config'),
    });
  });

  it('refuses an answer that is not an instance id', async () => {
    const base = await fakeImds('<html>captive portal</html>');
    await expect(resolveInstanceId({ imdsBaseUrl: base })).rejects.toMatchObject({
      code: 'FLEET_UNAVAILABLE',
    });
  });

  it('times out against an endpoint that never answers', async () => {
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(resolveInstanceId({ imdsBaseUrl: base, requestTimeoutMs: 200 })).rejects.toMatchObject({
      code: 'FLEET_UNAVAILABLE',
    });
    server.closeAllConnections();
  });
});
