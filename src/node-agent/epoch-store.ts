import { readFile } from 'node:fs/promises';
import { CodeyardError } from '../model/errors.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The highest leader epoch this node has accepted (fencing). A command with a lower epoch is
 * refused; a higher one is made durable (fsync'd) before anything acts on it, so an agent
 * restart can never forget it and let a deposed leader back in.
 */
export class EpochStore {
  private highest = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    try {
      const raw = (await readFile(this.path, 'utf8')).trim();
      if (!/^\d{1,15}$/.test(raw)) throw new Error(`damaged epoch file ${this.path}: ${JSON.stringify(raw)}`);
      this.highest = Number(raw);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  get highestEpoch(): number {
    return this.highest;
  }

  /** Throws STALE_EPOCH for an epoch below the highest; persists a higher one before returning. */
  admit(epoch: number): Promise<void> {
    const step = this.chain.then(async () => {
      if (epoch < this.highest) {
        throw new CodeyardError(
          'STALE_EPOCH',
          `epoch ${epoch} is older than ${this.highest}, the highest this node has seen`,
        );
      }
      if (epoch > this.highest) {
        await writeFileAtomic(this.path, `${epoch}\n`);
        this.highest = epoch;
      }
    });
    // Keep the chain alive after a refusal; the caller still sees the error.
    this.chain = step.catch(() => undefined);
    return step;
  }
}
