import { CodeyardError } from '../model/errors.js';

/** Pure fencing checks; the highest epoch itself is kept durable by EpochStore. */
export function assertCurrentEpoch(epoch: number, highestEpoch: number): void {
  if (epoch < highestEpoch) {
    throw new CodeyardError(
      'STALE_EPOCH',
      `epoch ${epoch} is older than ${highestEpoch}, the highest this node has seen`,
    );
  }
}

/** A command for an older generation than the node runs (label, or newer one recorded in the KV) is refused. */
export function assertCurrentGeneration(
  uid: string,
  generation: number,
  recorded: { label?: number | undefined; kv?: number | undefined },
): void {
  const newest = Math.max(recorded.label ?? 0, recorded.kv ?? 0);
  if (generation < newest) {
    throw new CodeyardError(
      'STALE_GENERATION',
      `generation ${generation} of ${uid} is older than ${newest}, the one this node runs`,
      { field: 'generation' },
    );
  }
}
