import { EventLoopBreather } from './event-loop-breather.js';
import type { WorkQueue } from './work-queue.js';

/**
 * The reconcile contract (controller-runtime `pkg/reconcile`), in the type:
 * - resolve with nothing: done until something changes;
 * - resolve with `{ requeueAfterMs }`: look again after that long;
 * - throw a `TerminalError`: record it (in status) and do not retry;
 * - throw anything else: retry with the key's backoff.
 * Never both an error and a delay.
 */
export type ReconcileResult = void | { readonly requeueAfterMs: number };
export type Reconcile = (key: string) => Promise<ReconcileResult>;

/** A failure retrying cannot fix (the object is invalid, the request is refused for good). */
export class TerminalError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TerminalError';
  }
}

export interface ProcessHooks {
  onTerminal?(key: string, error: TerminalError): void;
  onError?(key: string, error: unknown): void;
}

/** Runs one reconcile pass for one key already taken from the queue, and settles it. */
export async function processKey(
  queue: WorkQueue,
  key: string,
  reconcile: Reconcile,
  hooks: ProcessHooks = {},
): Promise<void> {
  try {
    const result = await reconcile(key);
    queue.forget(key);
    if (result !== undefined) queue.addAfter(key, result.requeueAfterMs);
  } catch (error) {
    if (error instanceof TerminalError) {
      queue.forget(key);
      hooks.onTerminal?.(key, error);
    } else {
      queue.addRateLimited(key);
      hooks.onError?.(key, error);
    }
  } finally {
    queue.done(key);
  }
}

/** Takes the next waiting key, if any, and processes it. False when nothing was waiting. */
export async function processNext(
  queue: WorkQueue,
  reconcile: Reconcile,
  hooks: ProcessHooks = {},
): Promise<boolean> {
  const key = queue.tryGet();
  if (key === undefined) return false;
  await processKey(queue, key, reconcile, hooks);
  return true;
}

/** Synchronous work the workers do at most before letting I/O in (see `EventLoopBreather`). */
export const workerEventLoopBudgetMsDefault = 10;

/** `concurrency` workers taking keys until the queue shuts down. */
export async function runWorkers(options: {
  queue: WorkQueue;
  reconcile: Reconcile;
  concurrency: number;
  hooks?: ProcessHooks;
  eventLoopBudgetMs?: number;
}): Promise<void> {
  const breather = new EventLoopBreather(options.eventLoopBudgetMs ?? workerEventLoopBudgetMsDefault);
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await options.queue.get();
      if (key === undefined) return;
      await processKey(options.queue, key, options.reconcile, options.hooks);
      const breath = breather.due();
      if (breath !== undefined) await breath;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
}
