import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EpochStore } from '../../../src/node-agent/epoch-store.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('EpochStore', () => {
  it('persists a higher epoch before admitting it, and a new store refuses lower ones', async () => {
    dir = mkdtempSync(join(tmpdir(), 'codeyard-epoch-'));
    const path = join(dir, 'highest-epoch');
    const store = new EpochStore(path);
    await store.load();
    await store.admit(4);
    expect((await readFile(path, 'utf8')).trim()).toBe('4');
    await store.admit(4);
    const reloaded = new EpochStore(path);
    await reloaded.load();
    expect(reloaded.highestEpoch).toBe(4);
    await expect(reloaded.admit(3)).rejects.toMatchObject({ code: 'STALE_EPOCH' });
  });

  it('serializes concurrent admissions: the highest wins and nothing lower slips through after it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'codeyard-epoch-'));
    const store = new EpochStore(join(dir, 'highest-epoch'));
    const results = await Promise.allSettled([store.admit(2), store.admit(9), store.admit(5)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(store.highestEpoch).toBe(9);
  });

  it('refuses to start on a damaged epoch file rather than forgetting the fence', async () => {
    dir = mkdtempSync(join(tmpdir(), 'codeyard-epoch-'));
    writeFileSync(join(dir, 'highest-epoch'), 'garbage');
    await expect(new EpochStore(join(dir, 'highest-epoch')).load()).rejects.toThrow(/damaged/);
  });
});
