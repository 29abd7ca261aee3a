/** Exit codes scripts can rely on. */
export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unauthenticated: 5,
  unavailable: 6,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, exitCodes.usage, 'USAGE');
}

export function exitCodeForStatus(status: number): number {
  if (status === 404) return exitCodes.notFound;
  if (status === 409 || status === 410) return exitCodes.conflict;
  if (status === 401 || status === 403) return exitCodes.unauthenticated;
  if (status === 503 || status === 502) return exitCodes.unavailable;
  if (status >= 400 && status < 500) return exitCodes.usage;
  return exitCodes.failure;
}
