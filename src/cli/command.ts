import { ApiClient } from './api-client.js';
import { resolveConnection } from './config.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  nowMs(): number;
  /** Aborted on Ctrl-C; long-running commands (`watch`, `up`) stop when it fires. */
  signal: AbortSignal;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export function clientFrom(values: { 'api-url'?: string; token?: string }): ApiClient {
  return new ApiClient(resolveConnection({ apiUrl: values['api-url'], token: values.token }));
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
