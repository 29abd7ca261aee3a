import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  SigningKeyRing,
  type StoredSigningKey,
} from './signing-keys.js';

/**
 * Loads the orchestrator's signing keys from `path`, creating a first key if the file is
 * missing. The file holds private keys: it is written with mode 0600, atomically.
 */
export async function loadOrCreateKeyRing(path: string, nowMs: number = Date.now()): Promise<SigningKeyRing> {
  let stored: StoredSigningKey[] | undefined;
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as StoredSigningKey[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stored && stored.length > 0) return new SigningKeyRing(await Promise.all(stored.map(importSigningKey)));
  const ring = new SigningKeyRing([await generateSigningKey(nowMs)]);
  await saveKeyRing(path, ring);
  return ring;
}

export async function saveKeyRing(path: string, ring: SigningKeyRing): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(await Promise.all(ring.all().map(exportSigningKey))), {
    mode: 0o600,
  });
  await rename(temporary, path);
}
