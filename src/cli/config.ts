import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `codeyard up` leaves the URL and token of the platform it started, for the other commands. */
export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.CODEYARD_CONFIG ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'codeyard', 'config.json')
  );
}

export interface CliConnection {
  apiUrl: string;
  token: string | undefined;
}

interface StoredCliConfig {
  apiUrl?: string;
  token?: string;
}

export const defaultApiUrl = 'http://127.0.0.1:8420';

/** API URL and token: flags first, then environment, then the config file, then the local default. */
export function resolveConnection(
  flags: { apiUrl?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): CliConnection {
  const stored = readStoredConfig(cliConfigPath(env));
  return {
    apiUrl: (flags.apiUrl ?? env.CODEYARD_API_URL ?? stored.apiUrl ?? defaultApiUrl).replace(/\/+$/, ''),
    token: flags.token ?? env.CODEYARD_TOKEN ?? stored.token,
  };
}

function readStoredConfig(path: string): StoredCliConfig {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as StoredCliConfig) : {};
  } catch {
    return {};
  }
}

/** The orchestrator's data directory for commands that act locally (`token`, `up`). */
export function dataDirFrom(flags: { dataDir?: string }, env: NodeJS.ProcessEnv = process.env): string {
  return flags.dataDir ?? env.CODEYARD_DATA_DIR ?? '.codeyard';
}

export function isInteractive(): boolean {
  return Boolean(process.stdout.isTTY) && process.env.CI !== 'true';
}
