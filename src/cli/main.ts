import { CliError, exitCodes } from './cli-error.js';
import type { CliIo, Command } from './command.js';
import {
  createCommand,
  getCommand,
  listCommand,
  removeCommand,
  startCommand,
  stopCommand,
} from './commands/codespace-commands.js';
import { nodesCommand } from './commands/nodes-command.js';
import { openCommand } from './commands/open-command.js';
import { tokenCommand } from './commands/token-command.js';
import { upCommand } from './commands/up-command.js';
import { watchCommand } from './commands/watch-command.js';

export const commands: readonly Command[] = [
  upCommand,
  createCommand,
  listCommand,
  getCommand,
  startCommand,
  stopCommand,
  removeCommand,
  openCommand,
  watchCommand,
  nodesCommand,
  tokenCommand,
];

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'codeyard: self-hosted cloud development environments',
    '',
    'Usage: codeyard COMMAND [flags]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global flags: --api-url URL, --token TOKEN, --json, -h/--help',
    'API URL and token also come from CODEYARD_API_URL / CODEYARD_TOKEN or the file `codeyard up` writes',
    '(~/.config/codeyard/config.json, or CODEYARD_CONFIG).',
  ].join('\n');
}

export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const fullIo: CliIo = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    nowMs: Date.now,
    signal: controller.signal,
    ...io,
  };
  const [name, ...rest] = argv;
  try {
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      fullIo.out(helpText());
      return name ? exitCodes.ok : exitCodes.usage;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) {
      fullIo.err(`codeyard: unknown command "${name}"\n\n${helpText()}`);
      return exitCodes.usage;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      fullIo.out(`usage: ${command.usage}\n\n${command.summary}`);
      return exitCodes.ok;
    }
    return await command.run(rest, fullIo);
  } catch (error) {
    if (error instanceof CliError) {
      fullIo.err(`codeyard: ${error.message}${error.code ? ` [${error.code}]` : ''}`);
      return error.exitCode;
    }
    fullIo.err(`codeyard: ${(error as Error).stack ?? String(error)}`);
    return exitCodes.failure;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
