/**
 * Differential test: random sequences of store operations run against `MemoryStore` and
 * `RedisStore` (real redis-server) must give the same answers, the same errors, and the same
 * watch history. The contract suite pins the behaviour; this finds where the two drift apart.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeyardError } from '../../src/model/errors.js';
import type { WatchEvent } from '../../src/model/events.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { aCodespace, aHeartbeat } from '../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { takeEvents } from '../unit/store/store-contract.js';

const names = ['a', 'b', 'c', 'd'] as const;
const owners = ['u1', 'u2'] as const;
const nodeNames = ['n1', 'n2'] as const;
const maxPerOwner = 2;
const leaseDurationMs = 60_000;
const runsCount = 40;

type Operation =
  | { kind: 'create'; name: string; owner: string; app: string; placed: boolean }
  | { kind: 'update'; name: string; stale: boolean; running: boolean; generation: number; fenced: boolean }
  | { kind: 'requestDeletion'; name: string; pinned: boolean }
  | { kind: 'finalize'; name: string; fenced: boolean }
  | { kind: 'list'; owner: string | undefined; app: string | undefined; limit: number }
  | { kind: 'heartbeat'; node: string; bootId: string; sequence: number }
  | { kind: 'cordon'; node: string; unschedulable: boolean }
  | { kind: 'acquire'; holder: string }
  | { kind: 'raiseEpoch'; by: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    // Creates fill the small name space, so that quotas, conflicts and deletes have work to do.
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      name: fc.constantFrom(...names),
      owner: fc.constantFrom(...owners),
      app: fc.constantFrom('web', 'db'),
      placed: fc.boolean(),
    }),
  },
  fc.record({
    kind: fc.constant('update' as const),
    name: fc.constantFrom(...names),
    stale: fc.boolean(),
    running: fc.boolean(),
    generation: fc.integer({ min: 1, max: 5 }),
    fenced: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('requestDeletion' as const),
    name: fc.constantFrom(...names),
    pinned: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('finalize' as const),
    name: fc.constantFrom(...names),
    fenced: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('list' as const),
    owner: fc.option(fc.constantFrom(...owners), { nil: undefined }),
    app: fc.option(fc.constantFrom('web', 'db'), { nil: undefined }),
    limit: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('heartbeat' as const),
    node: fc.constantFrom(...nodeNames),
    bootId: fc.constantFrom('b1', 'b2'),
    sequence: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('cordon' as const),
    node: fc.constantFrom(...nodeNames),
    unschedulable: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('acquire' as const), holder: fc.constantFrom('h1', 'h2') }),
  fc.record({ kind: fc.constant('raiseEpoch' as const), by: fc.integer({ min: 0, max: 2 }) }),
);

/** What a call answered, comparable across stores: the value, or the error code. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await call() };
  } catch (error) {
    if (error instanceof CodeyardError) {
      return { error: error.code };
    }
    throw error;
  }
}

/** Everything a list would show, page by page. */
async function listAll(store: Store, op: Extract<Operation, { kind: 'list' }>): Promise<unknown[]> {
  const pages: unknown[] = [];
  let continueAfter: string | undefined;
  do {
    const page = await store.listCodespaces({
      limit: op.limit,
      ...(op.owner === undefined ? {} : { owner: op.owner }),
      ...(op.app === undefined ? {} : { labelSelector: { app: op.app } }),
      ...(continueAfter === undefined ? {} : { continueAfter }),
    });
    pages.push(page);
    continueAfter = page.continueAfter;
  } while (continueAfter !== undefined && pages.length < 10);
  return pages;
}

/** Applies one operation; the inputs that depend on state are read from the store itself. */
async function apply(store: Store, op: Operation, leaderEpoch: { value: number }): Promise<unknown> {
  switch (op.kind) {
    case 'create':
      return outcome(() =>
        store.createCodespace(
          aCodespace({
            name: op.name,
            owner: op.owner,
            uid: `uid-${op.name}`,
            labels: { app: op.app },
            ...(op.placed ? { nodeName: 'n1', phase: 'Running' as const } : {}),
          }),
          { maxPerOwner },
        ),
      );
    case 'update': {
      const current = await store.getCodespace(op.name);
      const base = current ?? aCodespace({ name: op.name, uid: `uid-${op.name}` });
      return outcome(() =>
        store.updateCodespace(
          {
            ...base,
            metadata: { ...base.metadata, generation: op.generation },
            spec: { ...base.spec, running: op.running },
          },
          {
            expectedResourceVersion: op.stale ? '1' : base.metadata.resourceVersion,
            ...(op.fenced ? { fence: { leaderEpoch: leaderEpoch.value } } : {}),
          },
        ),
      );
    }
    case 'requestDeletion': {
      const current = await store.getCodespace(op.name);
      return outcome(() =>
        store.requestCodespaceDeletion(op.name, {
          now: '2026-01-01T00:10:00.000Z',
          ...(op.pinned && current !== undefined
            ? { expectedResourceVersion: current.metadata.resourceVersion }
            : {}),
        }),
      );
    }
    case 'finalize': {
      const current = await store.getCodespace(op.name);
      return outcome(() =>
        store.finalizeCodespaceDeletion(op.name, {
          expectedResourceVersion: current?.metadata.resourceVersion ?? '1',
          ...(op.fenced ? { fence: { leaderEpoch: leaderEpoch.value } } : {}),
        }),
      );
    }
    case 'list':
      return outcome(() => listAll(store, op));
    case 'heartbeat':
      return outcome(() =>
        store.applyHeartbeat(aHeartbeat({ nodeName: op.node, bootId: op.bootId, sequence: op.sequence }), {
          receivedAtMs: 1_000,
        }),
      );
    case 'cordon':
      return outcome(() => store.setNodeUnschedulable(op.node, op.unschedulable));
    case 'acquire': {
      const result = await outcome(() => store.tryAcquireLeadership({ holder: op.holder, leaseDurationMs }));
      const value = (result as { value?: { acquired: boolean; epoch: number } }).value;
      if (value?.acquired === true) {
        leaderEpoch.value = value.epoch;
      }
      return result;
    }
    case 'raiseEpoch':
      return outcome(() => store.raiseEpochAtLeast(leaderEpoch.value + op.by));
  }
}

/** Heartbeat fixtures carry generated agent URLs; make them comparable. */
function normalise(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, field: unknown) =>
      key === 'agentUrl' || key === 'proxyUrl' ? 'url' : field,
    ),
  );
}

describe('MemoryStore and RedisStore answer alike', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gives the same answers and the same watch history for any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), async (operations) => {
        const memory = new MemoryStore();
        const redis = await RedisStore.connect({ url: server.url, keyPrefix: `eq-${randomUUID()}:` });
        const memoryEpoch = { value: 0 };
        const redisEpoch = { value: 0 };
        try {
          for (const op of operations) {
            const expected = normalise(await apply(memory, op, memoryEpoch));
            const actual = normalise(await apply(redis, op, redisEpoch));
            expect(actual, JSON.stringify(op)).toEqual(expected);
          }
          const version = await memory.currentResourceVersion();
          expect(await redis.currentResourceVersion()).toBe(version);
          const histories: WatchEvent[][] = [];
          for (const store of [memory, redis]) {
            const controller = new AbortController();
            const iterator = store.watchCodespaces({ fromResourceVersion: 0, signal: controller.signal });
            histories.push(await takeEvents(iterator[Symbol.asyncIterator](), version));
            controller.abort();
          }
          expect(normalise(histories[1])).toEqual(normalise(histories[0]));
        } finally {
          await memory.close();
          await redis.close();
        }
      }),
      { numRuns: runsCount },
    );
  });
});
