import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const sessionSecretBytes = 32;
export const sessionSecretFileName = 'proxy-session-secret';

/**
 * The node-local HMAC key for session cookies: generated at first start and kept (mode 0600)
 * in the data dir, so sessions survive a proxy restart. Created with link(), which fails if
 * the file exists, so two proxies starting at once end up with the same secret.
 */
export async function loadOrCreateSessionSecret(path: string): Promise<Buffer> {
  const existing = await readSecret(path);
  if (existing) return existing;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, randomBytes(sessionSecretBytes).toString('hex'), { mode: 0o600 });
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary);
  }
  const created = await readSecret(path);
  if (!created) throw new Error(`session secret at ${path} is unreadable or too short`);
  return created;
}

async function readSecret(path: string): Promise<Buffer | undefined> {
  try {
    const secret = Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
    return secret.length >= sessionSecretBytes ? secret : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
