import { CodeyardError } from '../model/errors.js';

/** Commands queued behind one codespace beyond this answer 429: a retry storm cannot pile up. */
export const perKeyQueueMax = 16;

interface KeyQueue {
  tail: Promise<void>;
  pending: number;
}

/**
 * Runs operations one at a time per key (codespace uid) and concurrently across keys, so two
 * commands for one codespace never interleave their runtime calls.
 */
export class KeyedMutex {
  private readonly queues = new Map<string, KeyQueue>();

  isBusy(key: string): boolean {
    return this.queues.has(key);
  }

  async run<T>(key: string, operation: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { tail: Promise.resolve(), pending: 0 };
      this.queues.set(key, queue);
    }
    if (queue.pending >= perKeyQueueMax) {
      throw new CodeyardError('RATE_LIMITED', `too many queued commands for codespace ${key}`);
    }
    queue.pending += 1;
    const previous = queue.tail;
    let release!: () => void;
    queue.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await operation();
    } finally {
      release();
      queue.pending -= 1;
      if (queue.pending === 0) this.queues.delete(key);
    }
  }
}
