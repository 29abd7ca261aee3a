import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionCodec } from '../../../src/node-proxy/session.js';
import { loadOrCreateSessionSecret } from '../../../src/node-proxy/session-secret.js';

const secret = Buffer.alloc(32, 1);
const session = { user: 'alice', codespace: 'alpha', expiresAtMs: 2_000_000_000_000 };

describe('SessionCodec', () => {
  it('round-trips a session to second precision', () => {
    const codec = new SessionCodec(secret);
    expect(codec.verify(codec.sign(session), 1_000)).toEqual(session);
  });

  it('refuses expired sessions, also from the cache', () => {
    const codec = new SessionCodec(secret);
    const value = codec.sign(session);
    expect(codec.verify(value, session.expiresAtMs - 1)).toBeDefined();
    expect(codec.verify(value, session.expiresAtMs)).toBeUndefined();
  });

  it('refuses values signed with another secret, altered, or malformed', () => {
    const codec = new SessionCodec(secret);
    const foreign = new SessionCodec(Buffer.alloc(32, 2)).sign(session);
    const value = codec.sign(session);
    const [version, payload, mac] = value.split('.') as [string, string, string];
    const otherUser = Buffer.from(`bob\nalpha\n2000000000`).toString('base64url');
    for (const bad of [
      foreign,
      `${version}.${otherUser}.${mac}`,
      `v2.${payload}.${mac}`,
      `${version}.${payload}`,
      `${version}.${payload}.${mac}.x`,
      `${version}.${payload}.${mac.slice(0, -4)}`,
      'x'.repeat(600),
      '',
    ]) {
      expect(codec.verify(bad, 0), bad).toBeUndefined();
    }
  });

  it('refuses secrets shorter than 32 bytes', () => {
    expect(() => new SessionCodec(Buffer.alloc(16))).toThrow(RangeError);
  });
});

describe('loadOrCreateSessionSecret', () => {
  it('creates a private secret once and returns the same one afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'codeyard-secret-'));
    try {
      const path = join(dir, 'nested', 'proxy-session-secret');
      const [first, concurrent] = await Promise.all([
        loadOrCreateSessionSecret(path),
        loadOrCreateSessionSecret(path),
      ]);
      expect(first.length).toBe(32);
      expect(concurrent.equals(first)).toBe(true);
      expect((await loadOrCreateSessionSecret(path)).equals(first)).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await readFile(path, 'utf8')).trim()).toBe(first.toString('hex'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
