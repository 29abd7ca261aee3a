import type { Redis } from 'ioredis';
import type { Codespace } from '../../src/model/codespace.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { benchCodespace, withMarkers } from '../lib/bench-codespace.js';
import { monotonicMicros } from '../lib/monotonic-clock.js';
import { baselineChannel } from './protocol.js';

/** Makes change number `seq` (1-based, per phase) and resolves when the write call returned. */
export interface ChangeWriter {
  write(seq: number): Promise<void>;
  /** Write calls that failed and were retried so far. */
  readonly failedAttempts: number;
  readonly failureSamples: readonly string[];
}

export const writerOwner = 'bench-writer';
/** Tries per change before the writer gives up on it (it then counts as a failed write). */
const writeAttemptsMax = 5;
const failureSamplesMax = 5;

/**
 * Ours: each change is a real `updateCodespace` (Lua compare-and-set, counter, stream entry) on
 * one of a pool of codespaces, round robin. Writes to one name are chained so each carries the
 * version the previous one returned; with a pool larger than the rate, they never queue.
 */
export class StoreChangeWriter implements ChangeWriter {
  private readonly latest = new Map<string, Codespace>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Write calls that failed and were retried (they show how starved Redis was). */
  failedAttempts = 0;
  /** The first few failures' messages, for the report. */
  readonly failureSamples: string[] = [];

  private constructor(
    private readonly store: RedisStore,
    private readonly names: readonly string[],
  ) {}

  static async create(store: RedisStore, poolSize: number): Promise<StoreChangeWriter> {
    const names = Array.from({ length: poolSize }, (_, index) => `bench-watch-${index}`);
    const writer = new StoreChangeWriter(store, names);
    for (const name of names) {
      const existing = await store.getCodespace(name);
      const codespace =
        existing ??
        (await store.createCodespace(benchCodespace({ name, owner: writerOwner }), {
          maxPerOwner: poolSize,
        }));
      writer.latest.set(name, codespace);
    }
    return writer;
  }

  write(seq: number): Promise<void> {
    const name = this.names[seq % this.names.length]!;
    const previous = this.chains.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.writeWithRecovery(name, seq));
    this.chains.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * A write that fails (a command timeout when Redis is starved of CPU) leaves this writer's copy
   * of the object unknown: read it back and, unless the change did land, try again — so each
   * `seq` is written exactly once and the pool never wedges on a stale version.
   */
  private async writeWithRecovery(name: string, seq: number): Promise<void> {
    // Latency counts from the first try: a retried change is late by the time it took.
    const sentMicros = monotonicMicros();
    for (let attempt = 1; ; attempt += 1) {
      const current = this.latest.get(name)!;
      try {
        const changed = withMarkers(current, { seq, sentMicros });
        const stored = await this.store.updateCodespace(changed, {
          expectedResourceVersion: current.metadata.resourceVersion,
        });
        this.latest.set(name, stored);
        return;
      } catch (error) {
        this.failedAttempts += 1;
        if (this.failureSamples.length < failureSamplesMax) this.failureSamples.push(String(error));
        const fresh = await this.store.getCodespace(name).catch(() => undefined);
        if (fresh !== undefined) this.latest.set(name, fresh);
        if (fresh?.metadata.labels.seq === String(seq)) return; // it landed after all
        if (attempt >= writeAttemptsMax) throw error;
      }
    }
  }

  /** The pool's objects, for the baseline to publish the same payloads. */
  objects(): Codespace[] {
    return [...this.latest.values()];
  }
}

/** The baseline: PUBLISH of the same object JSON the store would write and stream. */
export class PublishChangeWriter implements ChangeWriter {
  readonly failedAttempts = 0;
  readonly failureSamples: readonly string[] = [];

  constructor(
    private readonly publisher: Redis,
    private readonly objects: readonly Codespace[],
  ) {}

  async write(seq: number): Promise<void> {
    const object = this.objects[seq % this.objects.length]!;
    const json = JSON.stringify(withMarkers(object, { seq, sentMicros: monotonicMicros() }));
    await this.publisher.publish(baselineChannel, json);
  }
}
