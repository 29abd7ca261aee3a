import { userIdPattern } from '../../model/names.js';
import { devTokenTtlSecondsMax, issueDevToken } from '../../orchestrator/issue-dev-token.js';
import { usageError } from '../cli-error.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { dataDirFrom } from '../config.js';

const ttlUnitsSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export function parseTtlSeconds(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw);
  if (!match) throw usageError(`--ttl takes a duration like 30m, 24h or 7d, got "${raw}"`);
  const seconds = Number(match[1]) * (ttlUnitsSeconds[match[2] || 's'] ?? 1);
  if (seconds < 60 || seconds > devTokenTtlSecondsMax) throw usageError('--ttl must be between 1m and 7d');
  return seconds;
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'issue an API token from this orchestrator’s signing keys (development and bootstrap)',
  usage: 'codeyard token --user USER [--admin] [--ttl 24h] [--data-dir DIR]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      user: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '24h' },
      'data-dir': { type: 'string' },
    });
    if (!values.user) throw usageError('usage: codeyard token --user USER [--admin] [--ttl 24h]');
    if (!new RegExp(userIdPattern).test(values.user))
      throw usageError(`--user "${values.user}" is not a valid user id`);
    // The same signing keys and rules as `src/orchestrator/issue-dev-token.ts`, which this wraps.
    const token = await issueDevToken({
      user: values.user,
      admin: values.admin,
      ttlSeconds: parseTtlSeconds(values.ttl),
      dataDir: dataDirFrom({ dataDir: values['data-dir'] }),
    });
    io.out(values.json ? JSON.stringify({ token }) : token);
    return 0;
  },
};
