import { CodeyardError } from '../model/errors.js';

/** Both stores refuse the same malformed leadership arguments, before touching any state. */
export function checkedLeaseDurationMs(leaseDurationMs: number): number {
  if (!Number.isSafeInteger(leaseDurationMs) || leaseDurationMs < 1) {
    throw new CodeyardError(
      'VALIDATION_FAILED',
      `leaseDurationMs ${leaseDurationMs} is not a positive integer`,
      {
        field: 'leaseDurationMs',
      },
    );
  }
  return leaseDurationMs;
}

export function checkedEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new CodeyardError('VALIDATION_FAILED', `epoch ${epoch} is not a non-negative integer`, {
      field: 'epoch',
    });
  }
  return epoch;
}
