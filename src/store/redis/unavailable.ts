import { CodeyardError } from '../../model/errors.js';

/**
 * Reply errors that mean "Redis cannot serve right now" rather than "this call is wrong":
 * a server loading its data, busy with a script, read-only replica, out of disk for persistence.
 */
const transientReplyPrefixes = [
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'READONLY',
  'TRYAGAIN',
  'MISCONF',
  'CLUSTERDOWN',
];

/**
 * Turns whatever a Redis call threw into a `CodeyardError`. Connection loss, offline-queue
 * refusal and command timeouts become STORE_UNAVAILABLE. Note: after a *timeout* a write may
 * still have been applied; every write is compare-and-set, so a retry is safe (it answers
 * CONFLICT or CODESPACE_EXISTS rather than writing twice).
 */
export function toStoreError(error: unknown): CodeyardError {
  if (error instanceof CodeyardError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  const isReply = error instanceof Error && error.name === 'ReplyError';
  if (isReply && !transientReplyPrefixes.some((prefix) => message.startsWith(prefix))) {
    return new CodeyardError('INTERNAL', `Redis refused a store command: ${message}`, { cause: error });
  }
  return new CodeyardError('STORE_UNAVAILABLE', `the store is unavailable: ${message}`, { cause: error });
}

/** Runs a Redis call, turning whatever it throws into a `CodeyardError`. */
export async function guarded<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw toStoreError(error);
  }
}
