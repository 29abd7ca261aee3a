import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalKvReader } from '../../../src/node-agent/local-kv-reader.js';
import { LocalKv } from '../../../src/node-agent/local-kv.js';

const dirs: string[] = [];
const readers: LocalKvReader[] = [];
afterEach(() => {
  readers.splice(0).forEach((r) => r.stop());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'codeyard-kv-'));
  dirs.push(dir);
  return dir;
}

const entry = (over: Partial<Parameters<LocalKv['set']>[1]> = {}) => ({
  name: 'one',
  uid: 'uid-1',
  owner: 'alice',
  hostPort: 42_001,
  state: 'running' as const,
  ready: true,
  generation: 1,
  epoch: 1,
  ...over,
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LocalKv', () => {
  it('writes users, routes and free ports to kv.json, with a version that grows across restarts', async () => {
    const dataDir = tempDir();
    const kv = new LocalKv({ dataDir, nodeName: 'n1', freePorts: () => [42_002, 42_003] });
    kv.set('uid-1', entry());
    kv.set('uid-2', entry({ name: 'two', uid: 'uid-2', owner: 'bob', hostPort: 42_005 }));
    await kv.flush();
    const doc = JSON.parse(await readFile(join(dataDir, 'kv.json'), 'utf8'));
    expect(doc).toMatchObject({
      format: 1,
      nodeName: 'n1',
      users: { alice: ['one'], bob: ['two'] },
      freePorts: [42_002, 42_003],
    });
    expect(doc.codespaces.one).toMatchObject({ uid: 'uid-1', hostPort: 42_001, ready: true });
    const again = new LocalKv({ dataDir, nodeName: 'n1', freePorts: () => [] });
    await again.loadPrevious();
    again.set('uid-1', entry());
    await again.flush();
    expect(JSON.parse(await readFile(join(dataDir, 'kv.json'), 'utf8')).version).toBeGreaterThan(doc.version);
  });

  it('coalesces a burst of changes into few writes', async () => {
    const dataDir = tempDir();
    const kv = new LocalKv({ dataDir, nodeName: 'n1', freePorts: () => [] });
    for (let i = 0; i < 50; i += 1) kv.set(`uid-${i}`, entry({ uid: `uid-${i}`, name: `cs-${i}` }));
    await kv.flush();
    const doc = JSON.parse(await readFile(join(dataDir, 'kv.json'), 'utf8'));
    expect(Object.keys(doc.codespaces)).toHaveLength(50);
    expect(doc.version).toBeLessThanOrEqual(2);
  });

  it('prefers the running entry when an old stopped uid shares the name', async () => {
    const kv = new LocalKv({ dataDir: tempDir(), nodeName: 'n1', freePorts: () => [] });
    kv.set('uid-new', entry({ uid: 'uid-new' }));
    kv.set('uid-old', entry({ uid: 'uid-old', state: 'exited', hostPort: undefined }));
    expect(kv.document().codespaces.one?.uid).toBe('uid-new');
    await kv.flush();
  });
});

describe('LocalKvReader (the proxy side)', () => {
  it('answers routeFor from the file and follows changes the agent writes', async () => {
    const dataDir = tempDir();
    const kv = new LocalKv({ dataDir, nodeName: 'n1', freePorts: () => [] });
    kv.set('uid-1', entry({ ready: false }));
    await kv.flush();
    const seen: number[] = [];
    const reader = new LocalKvReader({
      dataDir,
      pollIntervalMs: 100,
      onChange: (doc) => seen.push(doc.version),
    });
    readers.push(reader);
    await reader.start();
    expect(reader.routeFor('one')).toEqual({
      uid: 'uid-1',
      owner: 'alice',
      hostPort: 42_001,
      state: 'running',
      ready: false,
    });
    expect(reader.routeFor('nope')).toBeUndefined();
    expect(reader.routeFor('__proto__')).toBeUndefined();
    kv.update('uid-1', { ready: true });
    await kv.flush();
    await until(() => reader.routeFor('one')?.ready === true);
    kv.update('uid-1', { state: 'exited', hostPort: undefined });
    await kv.flush();
    await until(() => reader.routeFor('one') === undefined);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(reader.version).toBe(seen.at(-1));
  });

  it('keeps the last good document when the file is damaged, and starts before the agent wrote anything', async () => {
    const dataDir = tempDir();
    const reader = new LocalKvReader({ dataDir, pollIntervalMs: 50 });
    readers.push(reader);
    await reader.start();
    expect(reader.version).toBe(0);
    const kv = new LocalKv({ dataDir, nodeName: 'n1', freePorts: () => [] });
    kv.set('uid-1', entry());
    await kv.flush();
    await until(() => reader.routeFor('one') !== undefined);
    writeFileSync(join(dataDir, 'kv.json'), '{"format": 1, "vers');
    await new Promise((r) => setTimeout(r, 200));
    expect(reader.routeFor('one')?.hostPort).toBe(42_001);
  });
});
