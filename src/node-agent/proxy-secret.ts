import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

export const proxySecretFileName = 'proxy-secret';
const proxySecretBytes = 32;

/**
 * The node-local secret the proxy presents on `POST /v1/activity`: created once (mode 0600) in
 * the node data dir, which only the agent and the proxy (same user) can read.
 */
export async function loadOrCreateProxySecret(dataDir: string): Promise<string> {
  const path = join(dataDir, proxySecretFileName);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(proxySecretBytes).toString('hex');
  await writeFileAtomic(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** For the proxy: reads the secret the agent created. */
export async function readProxySecret(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, proxySecretFileName), 'utf8')).trim();
}
