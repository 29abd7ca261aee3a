import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const platformIdPattern = /^[a-f0-9]{4}$/;

/**
 * A short id for the platform that owns a data directory, kept in the directory so a restart
 * reuses it. It goes into node names (`local-<id>-1`): Docker labels carry node names, and two
 * platforms on one engine with the same node names would take each other's containers for
 * orphans and fence them.
 */
export async function loadOrCreatePlatformId(path: string): Promise<string> {
  try {
    const stored = (await readFile(path, 'utf8')).trim();
    if (platformIdPattern.test(stored)) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const id = randomBytes(2).toString('hex');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${id}\n`);
  return id;
}
