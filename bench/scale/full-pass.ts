import { EventLoopBreather } from '../../src/reconciler/event-loop-breather.js';
import { workerEventLoopBudgetMsDefault } from '../../src/reconciler/reconcile-result.js';
import { Redis } from 'ioredis';
import type { Controller } from '../../src/reconciler/controller.js';
import { storeKeys } from '../../src/store/redis/keys.js';
import type { CommandCounter } from './command-counter.js';
import { controllerWorkers } from './placement-bench.js';

/** Keys per pipeline (or MGET) in the raw read, as the store's own list pages. */
export const rawReadBatchKeys = 1_000;

export interface FullPassResult {
  readonly keysQueued: number;
  readonly keysProcessed: number;
  readonly relistMs: number;
  readonly processMs: number;
  /** relist + processing, projected to every key when the time limit cut the pass short. */
  readonly projectedPassMs: number;
  readonly redisCommandsPerKey: number;
  /** Keys answered from the controller's memo of empty plans (nothing it reads changed). */
  readonly keysSkipped: number;
  readonly errors: number;
}

/**
 * One full reconcile pass as the periodic resync makes it: relist every codespace (paged), queue
 * every key, and let the controller's workers reconcile each key once. Bounded by `timeLimitMs`.
 */
export async function timeFullPass(options: {
  controller: Controller;
  counter: CommandCounter;
  timeLimitMs: number;
}): Promise<FullPassResult> {
  const { controller } = options;
  const started = performance.now();
  await controller.relist();
  controller.resync();
  const relistMs = performance.now() - started;
  const keysQueued = controller.queue.length;
  const before = options.counter.commands;
  const skippedBefore = controller.skippedPasses;
  const deadline = performance.now() + options.timeLimitMs;
  let keysProcessed = 0;
  let errors = 0;
  const processStarted = performance.now();
  // As the production workers (`runWorkers`): let I/O in every few milliseconds of planning.
  const breather = new EventLoopBreather(workerEventLoopBudgetMsDefault);
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const key = controller.queue.tryGet();
      if (key === undefined) return;
      try {
        await controller.reconcile(key);
      } catch {
        errors += 1;
      }
      controller.queue.done(key);
      keysProcessed += 1;
      const breath = breather.due();
      if (breath !== undefined) await breath;
    }
  };
  await Promise.all(Array.from({ length: controllerWorkers }, worker));
  const processMs = performance.now() - processStarted;
  return {
    keysQueued,
    keysProcessed,
    relistMs,
    processMs,
    projectedPassMs: relistMs + (processMs * keysQueued) / Math.max(1, keysProcessed),
    redisCommandsPerKey: (options.counter.commands - before) / Math.max(1, keysProcessed),
    keysSkipped: controller.skippedPasses - skippedBefore,
    errors,
  };
}

/** The floor: a raw pipelined read of the same codespace keys (GET in pipelines, and MGET). */
export async function timeRawRead(options: {
  redisUrl: string;
  keyPrefix: string;
  names: readonly string[];
}): Promise<{ pipelinedGetMs: number; mgetMs: number; bytes: number }> {
  const redis = new Redis(options.redisUrl);
  try {
    const keys = storeKeys(options.keyPrefix);
    const all = options.names.map((name) => keys.codespace(name));
    let bytes = 0;
    let started = performance.now();
    for (let i = 0; i < all.length; i += rawReadBatchKeys) {
      const pipeline = redis.pipeline();
      for (const key of all.slice(i, i + rawReadBatchKeys)) pipeline.get(key);
      for (const [, value] of (await pipeline.exec()) ?? []) {
        bytes += typeof value === 'string' ? value.length : 0;
        // Parsing is part of reading an object: the controller's relist parses too.
        if (typeof value === 'string') JSON.parse(value);
      }
    }
    const pipelinedGetMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < all.length; i += rawReadBatchKeys) {
      for (const value of await redis.mget(...all.slice(i, i + rawReadBatchKeys))) {
        if (value !== null) JSON.parse(value);
      }
    }
    const mgetMs = performance.now() - started;
    return { pipelinedGetMs, mgetMs, bytes };
  } finally {
    redis.disconnect();
  }
}
