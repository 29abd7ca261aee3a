import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentCallError,
  AgentUnreachableError,
  HttpAgentClient,
} from '../../../src/reconciler/agent-client.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

let keyRing: SigningKeyRing;
let server: Server | undefined;

beforeAll(async () => {
  keyRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
});

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function agentAnswering(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"container":null}');
};

describe('HttpAgentClient', () => {
  it('sends each command to the agent protocol route with a node-scoped token carrying the epoch', async () => {
    const { url, seen } = await agentAnswering(ok);
    const client = new HttpAgentClient({ keyRing });
    const target = { nodeName: 'n1', agentUrl: `${url}/`, epoch: 7 };
    const spec = {
      image: 'codeyard/workspace:latest',
      running: true,
      resources: { cpu: 1, memoryMiB: 2048, diskGiB: 10 },
      idleTimeoutSeconds: 900,
      env: {},
    };
    await client.ensureRunning(target, 'u1', { name: 'web', owner: 'alice', generation: 3, spec });
    await client.stop(target, 'u1', { generation: 3, reason: 'User' });
    await client.remove(target, 'u1');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'PUT /v1/codespaces/u1',
      'POST /v1/codespaces/u1/stop',
      'DELETE /v1/codespaces/u1',
    ]);
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ name: 'web', generation: 3 });
    expect(JSON.parse(seen[1]!.body)).toEqual({ generation: 3, reason: 'User' });
    const token = seen[0]!.authorization!.replace(/^Bearer /, '');
    expect(decodeJwt(token)).toMatchObject({ aud: 'node:n1', epoch: 7 });
    expect(decodeProtectedHeader(token).typ).toBe('codeyard-agent+jwt');
  });

  it('turns a refusal as too old into a typed STALE_EPOCH error', async () => {
    const { url } = await agentAnswering((_req, res) => {
      res
        .writeHead(409, { 'content-type': 'application/json' })
        .end('{"code":"STALE_EPOCH","message":"epoch 3 is older than 4"}');
    });
    const client = new HttpAgentClient({ keyRing });
    await expect(client.remove({ nodeName: 'n1', agentUrl: url, epoch: 3 }, 'u1')).rejects.toMatchObject({
      code: 'STALE_EPOCH',
      message: expect.stringContaining('epoch 3 is older than 4'),
    });
  });

  it('reports other failures with the status the node answered', async () => {
    const { url } = await agentAnswering((_req, res) => {
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"code":"INTERNAL","message":"docker down"}');
    });
    const error = await new HttpAgentClient({ keyRing })
      .remove({ nodeName: 'n1', agentUrl: url, epoch: 1 }, 'u1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentCallError);
    expect((error as AgentCallError).status).toBe(500);
  });

  it('gives up on a node that does not answer within its timeout', async () => {
    const { url } = await agentAnswering(() => {
      /* never answers */
    });
    const client = new HttpAgentClient({ keyRing, timeoutMs: 200 });
    const started = Date.now();
    await expect(client.remove({ nodeName: 'n1', agentUrl: url, epoch: 1 }, 'u1')).rejects.toBeInstanceOf(
      AgentUnreachableError,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
