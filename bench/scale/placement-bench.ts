import type { Codespace } from '../../src/model/codespace.js';
import { systemClock } from '../../src/reconciler/clock.js';
import { codespaceUrlFor } from '../../src/reconciler/codespace-url.js';
import { Controller } from '../../src/reconciler/controller.js';
import { Fencer } from '../../src/reconciler/fencer.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import type { CommandCounter } from './command-counter.js';
import { nodeName, slotsPerNode } from './fleet-fixtures.js';
import { NullAgentClient } from './null-agent-client.js';

/** The controller's default worker count (placements plan one at a time, their writes overlap). */
export const controllerWorkers = 4;
const leaseDurationMs = 3_600_000;
const passAttemptsMax = 3;

export interface WindowResult {
  readonly contender: 'ours' | 'null';
  readonly fillStartPct: number;
  readonly fillEndPct: number;
  readonly placements: number;
  readonly elapsedMs: number;
  readonly placementsPerSecond: number;
  readonly cpuMsPerPlacement: number;
  readonly redisCommandsPerPlacement: number;
  /** Excluding the node poll's round trips (counted apart: they are once a second, not per placement). */
  readonly redisRoundTripsPerPlacement: number;
  readonly nodePollRoundTrips: number;
}

/**
 * The reconciler's controller against the seeded store, with a wrapper on the store that
 * watches its writes: a placement is a status write that lands the codespace in Scheduled on a node.
 */
export class PlacementBench {
  readonly controller: Controller;
  readonly agents = new NullAgentClient();
  /** Slots used per node (from every placement, ours or null). */
  private readonly used = new Map<string, number>();
  private readonly pending: string[];
  private placed = 0;
  private scheduledWrites = 0;
  /** Reconcile passes that threw during ours windows (retried). */
  failedPasses = 0;

  private constructor(
    private readonly store: RedisStore,
    private readonly counter: CommandCounter,
    private readonly epoch: number,
    private readonly nodeCount: number,
    names: readonly string[],
  ) {
    this.pending = [...names];
    const countingUpdate = async (
      codespace: Codespace,
      options: Parameters<Store['updateCodespace']>[1],
    ): Promise<Codespace> => {
      const written = await store.updateCodespace(codespace, options);
      if (written.status.phase === 'Scheduled' && written.status.nodeName !== undefined) {
        this.scheduledWrites += 1;
      }
      return written;
    };
    // Methods are bound once: a bind per call would be charged to ours, not to the null placer.
    const bound = new Map<PropertyKey, unknown>();
    const watched = new Proxy(store, {
      get: (target, property, receiver) => {
        if (property === 'updateCodespace') return countingUpdate;
        if (bound.has(property)) return bound.get(property);
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(property, method);
        return method;
      },
    });
    this.controller = new Controller({
      store: watched,
      agents: this.agents,
      fencer: new Fencer({
        fleet: {
          describe: async () => ({ instances: [] }) as never,
          terminate: async () => undefined,
        },
        clock: systemClock,
      }),
      clock: systemClock,
      leaderEpoch: () => this.epoch,
      config: { maxContainersPerNode: slotsPerNode },
    });
  }

  /** Takes the leader lease (so status writes pass the epoch fence) and relists. */
  static async start(options: {
    store: RedisStore;
    counter: CommandCounter;
    nodeCount: number;
    codespaceNames: readonly string[];
  }): Promise<PlacementBench> {
    const lease = await options.store.tryAcquireLeadership({ holder: 'scale-bench', leaseDurationMs });
    if (!lease.acquired) throw new Error('the benchmark could not take the leader lease');
    const bench = new PlacementBench(
      options.store,
      options.counter,
      lease.epoch,
      options.nodeCount,
      options.codespaceNames,
    );
    await bench.controller.onStartedLeading();
    return bench;
  }

  get fillPct(): number {
    return (100 * this.placed) / (this.nodeCount * slotsPerNode);
  }

  get remaining(): number {
    return this.pending.length;
  }

  /** Ours: the controller's real reconcile of each key (plan + fenced CAS write + commands). */
  async runOurs(count: number): Promise<WindowResult> {
    const names = this.pending.splice(0, count);
    return this.measure(
      'ours',
      names.length,
      async () => {
        // A failed pass (e.g. a command timeout while the event loop is busy planning) is retried,
        // as the work queue would; failures are counted and reported.
        const work = names.map((name) => ({ name, attempts: 0 }));
        const worker = async (): Promise<void> => {
          for (let item = work.shift(); item !== undefined; item = work.shift()) {
            try {
              await this.controller.reconcile(`cs/${item.name}`);
            } catch (error) {
              this.failedPasses += 1;
              item.attempts += 1;
              if (item.attempts >= passAttemptsMax) throw error;
              work.push(item);
            }
          }
        };
        await Promise.all(Array.from({ length: controllerWorkers }, worker));
        return this.scheduledWrites;
      },
      () => this.recountFromController(names),
    );
  }

  /**
   * Null placer: the same fenced CAS status write, with as many in flight as the controller's
   * workers, the node taken from an array computed before the clock starts.
   */
  async runNull(count: number, options: { steady?: boolean } = {}): Promise<WindowResult> {
    const names = this.pending.splice(0, count);
    const cache = new Map(this.controller.cachedCodespaces().map((c) => [c.metadata.name, c]));
    const targets = this.freeSlots(names.length);
    const items = names.map((name, i) => ({
      codespace: cache.get(name) as Codespace,
      node: targets[i] as string,
    }));
    const written: Codespace[] = [];
    const result = await this.measure(
      'null',
      items.length,
      async () => {
        const nowIso = new Date().toISOString();
        // As many writes in flight as the controller has workers: the same concurrency as ours.
        let next = 0;
        const worker = async (): Promise<void> => {
          for (let item = items[next++]; item !== undefined; item = items[next++]) {
            written.push(
              await this.store.updateCodespace(
                scheduledOn(item.codespace, item.node, nowIso, options.steady ?? false),
                {
                  expectedResourceVersion: item.codespace.metadata.resourceVersion,
                  fence: { leaderEpoch: this.epoch },
                },
              ),
            );
          }
        };
        await Promise.all(Array.from({ length: controllerWorkers }, worker));
        return written.length;
      },
      () => undefined,
    );
    // What the watch would deliver: the controller sees these slots as taken.
    for (const object of written) {
      this.controller.applyWatchEvent({
        type: 'MODIFIED',
        resourceVersion: Number(object.metadata.resourceVersion),
        object,
      });
      this.take(object.status.nodeName as string);
    }
    return result;
  }

  /**
   * Fills up to `targetPct` with the null placer, untimed (to reach the high-fill windows). These
   * codespaces get the status the controller's next pass would give them (the start requested), so
   * that a later full pass finds them with nothing to write.
   */
  async fillTo(targetPct: number): Promise<void> {
    const target = Math.floor((targetPct / 100) * this.nodeCount * slotsPerNode);
    while (this.placed < target && this.pending.length > 0) {
      await this.runNull(Math.min(1000, target - this.placed), { steady: true });
    }
  }

  private async measure(
    contender: 'ours' | 'null',
    expected: number,
    work: () => Promise<number>,
    after: () => void,
  ): Promise<WindowResult> {
    const fillStartPct = this.fillPct;
    const before = this.counter.snapshot();
    const scheduledBefore = this.scheduledWrites;
    // In-process, so getrusage's microseconds rather than /proc's 10 ms ticks (a window is ~65 ms).
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const reached = await work();
    const elapsedMs = performance.now() - started;
    const cpuUsed = process.cpuUsage(cpuBefore);
    const cpuMs = (cpuUsed.user + cpuUsed.system) / 1000;
    const after_ = this.counter.snapshot();
    const placements = contender === 'ours' ? reached - scheduledBefore : reached;
    if (placements !== expected) {
      throw new Error(`${contender}: ${placements} of ${expected} codespaces reached Scheduled`);
    }
    after();
    if (contender === 'ours') this.placed += placements;
    return {
      contender,
      fillStartPct,
      fillEndPct:
        contender === 'ours'
          ? this.fillPct
          : fillStartPct + (100 * placements) / (this.nodeCount * slotsPerNode),
      placements,
      elapsedMs,
      placementsPerSecond: (placements * 1000) / elapsedMs,
      cpuMsPerPlacement: cpuMs / placements,
      redisCommandsPerPlacement: (after_.commands - before.commands) / placements,
      redisRoundTripsPerPlacement:
        (after_.roundTrips - before.roundTrips - (after_.nodePollRoundTrips - before.nodePollRoundTrips)) /
        placements,
      nodePollRoundTrips: after_.nodePollRoundTrips - before.nodePollRoundTrips,
    };
  }

  private recountFromController(names: readonly string[]): void {
    const wanted = new Set(names);
    for (const c of this.controller.cachedCodespaces()) {
      if (wanted.has(c.metadata.name) && c.status.nodeName !== undefined) {
        this.used.set(c.status.nodeName, (this.used.get(c.status.nodeName) ?? 0) + 1);
      }
    }
  }

  private take(node: string): void {
    this.used.set(node, (this.used.get(node) ?? 0) + 1);
    this.placed += 1;
  }

  /** One node name per free slot, node by node (binpack order), for `count` placements. */
  private freeSlots(count: number): string[] {
    const slots: string[] = [];
    for (let i = 0; i < this.nodeCount && slots.length < count; i += 1) {
      const name = nodeName(i);
      const free = slotsPerNode - (this.used.get(name) ?? 0);
      for (let s = 0; s < free && slots.length < count; s += 1) slots.push(name);
    }
    if (slots.length < count) throw new Error(`only ${slots.length} free slots for ${count} placements`);
    return slots;
  }
}

/**
 * The status a placement writes (as the planner's `placeCodespace` does), on a given node; with
 * `steady`, the one the pass after it writes (start requested), which further passes leave alone.
 */
function scheduledOn(codespace: Codespace, node: string, nowIso: string, steady: boolean): Codespace {
  const message = `placed on node ${node}`;
  const progress = steady
    ? `asking node ${node} to start the container`
    : `${message}; asking it to start the container`;
  return {
    ...codespace,
    status: {
      ...codespace.status,
      phase: 'Scheduled',
      nodeName: node,
      url: codespaceUrlFor(
        `http://127.0.0.1:1/proxies/${Number(node.slice('node-'.length))}`,
        codespace.metadata.name,
      ),
      observedGeneration: codespace.metadata.generation,
      conditions: [
        { type: 'Scheduled', status: 'True', reason: 'Placed', message, lastTransitionTime: nowIso },
        {
          type: 'Ready',
          status: 'False',
          reason: 'Scheduled',
          message: `waiting for node ${node} to start it`,
          lastTransitionTime: nowIso,
        },
        {
          type: 'Progressing',
          status: 'True',
          reason: 'Scheduled',
          message: progress,
          lastTransitionTime: nowIso,
        },
      ],
    },
  };
}
