import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const localFleetName = 'local';
const generatedSecretBytes = 32;

/**
 * The fleet → join secret map the orchestrator accepts heartbeats with. Configured secrets
 * win; with none configured, the `local` fleet's secret is read from (or generated into)
 * `path`, mode 0600, so local node agents started later can read the same file.
 */
export async function resolveFleetJoinSecrets(options: {
  configured: Readonly<Record<string, string>>;
  path: string;
}): Promise<Record<string, string>> {
  if (Object.keys(options.configured).length > 0) return { ...options.configured };
  try {
    const stored = JSON.parse(await readFile(options.path, 'utf8')) as Record<string, unknown>;
    const secret = stored[localFleetName];
    if (typeof secret === 'string' && secret.length >= 16) return { [localFleetName]: secret };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets = { [localFleetName]: randomBytes(generatedSecretBytes).toString('base64url') };
  await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
  const temporary = `${options.path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(secrets), { mode: 0o600 });
  await rename(temporary, options.path);
  return secrets;
}
