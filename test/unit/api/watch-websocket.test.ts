import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { startApiHarness, type ApiHarness } from './api-harness.js';

interface Message {
  type: string;
  resourceVersion?: number;
  code?: string;
  object?: { metadata: { name: string; owner: string } };
}

let harness: ApiHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function listening(): Promise<{ harness: ApiHarness; base: string }> {
  harness = await startApiHarness({ config: { watchBookmarkIntervalMs: 50 } });
  const address = await harness.app.listen({ host: '127.0.0.1', port: 0 });
  return { harness, base: address.replace('http', 'ws') };
}

function open(url: string, protocols: string[]): Promise<{ socket: WebSocket; messages: Message[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    const messages: Message[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`HTTP ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function create(h: ApiHarness, user: string, name: string): Promise<void> {
  const response = await h.app.inject({
    method: 'POST',
    url: '/v1/codespaces',
    headers: await h.authFor(user),
    payload: { metadata: { name }, spec: { image: 'codeyard/test-workspace:latest' } },
  });
  expect(response.statusCode).toBe(201);
}

describe('the codespace watch over a WebSocket', () => {
  it('streams the caller’s own changes, with bookmarks, and hides other users’ codespaces', async () => {
    const { harness: h, base } = await listening();
    const token = await h.tokenFor('alice');
    const { socket, messages } = await open(`${base}/v1/watch/codespaces?resourceVersion=0`, [
      'codeyard.watch.v1',
      `codeyard.token.${token}`,
    ]);
    expect(socket.protocol).toBe('codeyard.watch.v1');
    await create(h, 'bob', 'bobs-box');
    await create(h, 'alice', 'alices-box');
    await until(() => messages.some((m) => m.type === 'ADDED'));
    await until(() => messages.some((m) => m.type === 'BOOKMARK'));
    const added = messages.filter((m) => m.type === 'ADDED');
    expect(added.map((m) => m.object?.metadata.name)).toEqual(['alices-box']);
    expect(added[0]?.resourceVersion).toBeGreaterThan(0);
    socket.close();
  });

  it('resumes from a resourceVersion without replaying what came before', async () => {
    const { harness: h, base } = await listening();
    await create(h, 'alice', 'first');
    const resumeFrom = await h.store.currentResourceVersion();
    await create(h, 'alice', 'second');
    const token = await h.tokenFor('alice');
    const { socket, messages } = await open(`${base}/v1/watch/codespaces?resourceVersion=${resumeFrom}`, [
      'codeyard.watch.v1',
      `codeyard.token.${token}`,
    ]);
    await until(() => messages.some((m) => m.type === 'ADDED'));
    expect(messages.filter((m) => m.type === 'ADDED').map((m) => m.object?.metadata.name)).toEqual([
      'second',
    ]);
    socket.close();
  });

  it('refuses an upgrade without a token, with a forged token, or without the watch subprotocol', async () => {
    const { harness: h, base } = await listening();
    const url = `${base}/v1/watch/codespaces`;
    await expect(open(url, ['codeyard.watch.v1'])).rejects.toThrow('HTTP 401');
    const otherRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
    const forged = await issueApiToken(otherRing, { user: 'alice', role: 'admin' });
    await expect(open(url, ['codeyard.watch.v1', `codeyard.token.${forged}`])).rejects.toThrow('HTTP 401');
    const token = await h.tokenFor('alice');
    await expect(open(url, [`codeyard.token.${token}`])).rejects.toThrow('HTTP 401');
  });

  it('answers a garbage resourceVersion with an error message and closes', async () => {
    const { harness: h, base } = await listening();
    const token = await h.tokenFor('alice');
    const { socket, messages } = await open(`${base}/v1/watch/codespaces?resourceVersion=12abc`, [
      'codeyard.watch.v1',
      `codeyard.token.${token}`,
    ]);
    await new Promise((resolve) => socket.once('close', resolve));
    expect(messages).toEqual([expect.objectContaining({ type: 'ERROR', code: 'VALIDATION_FAILED' })]);
  });

  it('answers an upgrade to any other path with 404 instead of leaving it hanging', async () => {
    const { harness: h, base } = await listening();
    const token = await h.tokenFor('alice');
    await expect(
      open(`${base}/v1/codespaces`, ['codeyard.watch.v1', `codeyard.token.${token}`]),
    ).rejects.toThrow('HTTP 404');
  });
});
