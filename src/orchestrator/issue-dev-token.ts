import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadOrCreateKeyRing } from '../tokens/key-file.js';
import { issueApiToken } from '../tokens/issue-token.js';
import { userIdPattern } from '../model/names.js';
import { apiTokenTtlSecondsDefault } from '../tokens/token-kinds.js';
import { dataDirPaths, loadOrchestratorConfig } from './config.js';

/** A dev token outlives a working day but not a week. */
export const devTokenTtlSecondsMax = 7 * 24 * 3600;

export interface DevTokenOptions {
  user: string;
  admin?: boolean;
  /** Defaults to 24 hours. */
  ttlSeconds?: number;
  /** The orchestrator's data dir; its signing keys are created there if missing. */
  dataDir: string;
}

/**
 * Issues an API token signed with the orchestrator's own key ring, for development and for
 * `codeyard token --user alice [--admin] [--ttl 24h]`. Anyone who can read the data dir can
 * do this: it is the operator's tool, not a login.
 */
export async function issueDevToken(options: DevTokenOptions): Promise<string> {
  if (!new RegExp(userIdPattern).test(options.user)) throw new Error(`invalid user id "${options.user}"`);
  const ttlSeconds = options.ttlSeconds ?? apiTokenTtlSecondsDefault;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > devTokenTtlSecondsMax) {
    throw new Error(`ttl must be between 1 second and ${devTokenTtlSecondsMax / 3600} hours`);
  }
  const ring = await loadOrCreateKeyRing(dataDirPaths(options.dataDir).signingKeys);
  return issueApiToken(ring, { user: options.user, role: options.admin ? 'admin' : 'user' }, { ttlSeconds });
}

const ttlUnitsSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `24h`, `7d` → seconds. */
export function parseTtl(text: string): number {
  const match = /^([0-9]{1,7})([smhd])$/.exec(text.trim());
  if (!match) throw new Error(`invalid ttl "${text}": use a number and a unit (s, m, h, d), e.g. 24h`);
  return Number(match[1]) * ttlUnitsSeconds[match[2]!]!;
}

/** Command-line use: `npx tsx src/orchestrator/issue-dev-token.ts --user alice [--admin] [--ttl 24h]`. */
export async function issueDevTokenCommand(argv: readonly string[]): Promise<string> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      user: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  if (!values.user)
    throw new Error('usage: issue-dev-token --user <id> [--admin] [--ttl 24h] [--data-dir dir]');
  const dataDir = values['data-dir'] ?? loadOrchestratorConfig().dataDir;
  return issueDevToken({
    user: values.user,
    admin: values.admin ?? false,
    dataDir,
    ...(values.ttl === undefined ? {} : { ttlSeconds: parseTtl(values.ttl) }),
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  issueDevTokenCommand(process.argv.slice(2)).then(
    (token) => process.stdout.write(`${token}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
