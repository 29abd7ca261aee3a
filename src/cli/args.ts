import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './cli-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command takes. */
export const globalOptions = {
  'api-url': { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { ...globalOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

export function requireName(positionals: string[], command: string): string {
  const name = positionals[0];
  if (!name) throw usageError(`usage: codeyard ${command} NAME`);
  return name;
}
