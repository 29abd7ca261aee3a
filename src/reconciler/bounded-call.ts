import { CodeyardError, type ErrorCode } from '../model/errors.js';
import type { Clock } from './clock.js';

/**
 * Bounds a store call by `timeoutMs` on `clock`: a hung backend must not hold the leader past
 * its renew deadline. The call itself is not cancelled; its late answer is ignored.
 */
export function bounded<T>(
  clock: Clock,
  timeoutMs: number,
  what: string,
  call: () => Promise<T>,
  code: ErrorCode = 'STORE_UNAVAILABLE',
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const cancel = clock.setTimer(timeoutMs, () => {
      if (settled) return;
      settled = true;
      reject(new CodeyardError(code, `${what} did not answer within ${timeoutMs} ms`));
    });
    call().then(
      (value) => {
        if (settled) return;
        settled = true;
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        cancel();
        reject(error);
      },
    );
  });
}
