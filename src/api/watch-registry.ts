import { CodeyardError } from '../model/errors.js';

/** One open watch: its cancel signal and how to give its slot back. */
export interface WatchLease {
  readonly signal: AbortSignal;
  /** Ends the watch (idempotent). */
  abort(): void;
  /** Frees the slot (idempotent). */
  release(): void;
}

/**
 * Open watch streams: at most `perTokenMax` at once per API token (a runaway client cannot
 * hold every connection), and every one cancellable at shutdown.
 */
export class WatchRegistry {
  private readonly countsByToken = new Map<string, number>();
  private readonly open = new Set<AbortController>();

  constructor(private readonly options: { perTokenMax: number; onCountChange?: (open: number) => void }) {}

  acquire(tokenKey: string): WatchLease {
    const count = this.countsByToken.get(tokenKey) ?? 0;
    if (count >= this.options.perTokenMax) {
      throw new CodeyardError(
        'RATE_LIMITED',
        `at most ${this.options.perTokenMax} concurrent watches per token; close one first`,
      );
    }
    this.countsByToken.set(tokenKey, count + 1);
    const controller = new AbortController();
    this.open.add(controller);
    this.options.onCountChange?.(this.open.size);
    let released = false;
    return {
      signal: controller.signal,
      abort: () => controller.abort(),
      release: () => {
        if (released) return;
        released = true;
        controller.abort();
        this.open.delete(controller);
        const remaining = (this.countsByToken.get(tokenKey) ?? 1) - 1;
        if (remaining <= 0) this.countsByToken.delete(tokenKey);
        else this.countsByToken.set(tokenKey, remaining);
        this.options.onCountChange?.(this.open.size);
      },
    };
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every stream, e.g. at shutdown: clients resume elsewhere with Last-Event-ID. */
  abortAll(): void {
    for (const controller of this.open) controller.abort();
  }
}
