import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { processNext, TerminalError } from '../../../src/reconciler/reconcile-result.js';
import { WorkQueue } from '../../../src/reconciler/work-queue.js';

const aQueue = (overrides: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}) => {
  const clock = new SimulatedClock(0);
  return { clock, queue: new WorkQueue({ clock, ...overrides }) };
};

describe('WorkQueue', () => {
  it('holds a key once however often it is added', () => {
    const { queue } = aQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.length).toBe(2);
    expect([queue.tryGet(), queue.tryGet(), queue.tryGet()]).toEqual(['a', 'b', undefined]);
  });

  it('never hands out a key that is being processed, and re-queues it when the pass ends', () => {
    const { queue } = aQueue();
    queue.add('a');
    expect(queue.tryGet()).toBe('a');
    queue.add('a');
    expect(queue.tryGet()).toBeUndefined();
    queue.done('a');
    expect(queue.tryGet()).toBe('a');
    queue.done('a');
    expect(queue.tryGet()).toBeUndefined();
  });

  it('backs off a failing key exponentially up to a cap', () => {
    const { clock, queue } = aQueue({ backoffBaseMs: 100, backoffMaxMs: 350 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const start = clock.nowMs();
      queue.addRateLimited('a');
      while (queue.length === 0) clock.advance(1);
      delays.push(clock.nowMs() - start);
      queue.tryGet();
      queue.done('a');
    }
    expect(delays).toEqual([100, 200, 350, 350]);
    queue.forget('a');
    expect(queue.numRequeues('a')).toBe(0);
  });

  it('bounds the overall retry rate beside the per-key backoff', () => {
    const { clock, queue } = aQueue({ backoffBaseMs: 1, retriesPerSecond: 10, retryBurst: 2 });
    for (const key of ['a', 'b', 'c', 'd']) queue.addRateLimited(key);
    clock.advance(1);
    expect(queue.length).toBe(2);
    clock.advance(100);
    expect(queue.length).toBe(3);
    clock.advance(100);
    expect(queue.length).toBe(4);
  });

  it('refuses keys beyond its bound and counts them', () => {
    const { queue } = aQueue({ maxLength: 2 });
    expect([queue.add('a'), queue.add('b'), queue.add('c')]).toEqual([true, true, false]);
    expect(queue.dropped).toBe(1);
  });

  it('keeps the earliest of several delayed adds', () => {
    const { clock, queue } = aQueue();
    queue.addAfter('a', 500);
    queue.addAfter('a', 100);
    clock.advance(100);
    expect(queue.tryGet()).toBe('a');
  });

  it('wakes a waiting worker and releases it on shutdown', async () => {
    const { queue } = aQueue();
    const first = queue.get();
    queue.add('a');
    await expect(first).resolves.toBe('a');
    const second = queue.get();
    queue.shutDown();
    await expect(second).resolves.toBeUndefined();
  });
});

describe('processNext: the reconcile contract', () => {
  it('retries a thrown error with backoff', async () => {
    const { clock, queue } = aQueue({ backoffBaseMs: 50 });
    queue.add('a');
    const errors: string[] = [];
    await processNext(queue, () => Promise.reject(new Error('boom')), { onError: (k) => errors.push(k) });
    expect(errors).toEqual(['a']);
    expect(queue.length).toBe(0);
    clock.advance(50);
    expect(queue.tryGet()).toBe('a');
  });

  it('records a TerminalError and does not retry', async () => {
    const { clock, queue } = aQueue();
    queue.add('a');
    const terminal: string[] = [];
    await processNext(queue, () => Promise.reject(new TerminalError('invalid')), {
      onTerminal: (k, e) => terminal.push(`${k}:${e.message}`),
    });
    clock.advance(3_600_000);
    expect(terminal).toEqual(['a:invalid']);
    expect(queue.tryGet()).toBeUndefined();
  });

  it('looks again after the requested delay and clears the backoff on success', async () => {
    const { clock, queue } = aQueue();
    queue.add('a');
    queue.addRateLimited('b');
    await processNext(queue, () => Promise.resolve({ requeueAfterMs: 1000 }));
    clock.advance(999);
    expect(queue.tryGet()).toBe('b');
    queue.done('b');
    clock.advance(1);
    expect(queue.tryGet()).toBe('a');
  });
});

describe('WorkQueue properties', () => {
  type Op =
    | { kind: 'add'; key: string }
    | { kind: 'take' }
    | { kind: 'finish'; worker: number; outcome: 'ok' | 'error' | 'requeue' }
    | { kind: 'tick'; ms: number };
  const key = fc.constantFrom('a', 'b', 'c', 'd');
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), key }),
    fc.record({ kind: fc.constant('take' as const) }),
    fc.record({
      kind: fc.constant('finish' as const),
      worker: fc.nat(3),
      outcome: fc.constantFrom('ok' as const, 'error' as const, 'requeue' as const),
    }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 500 }) }),
  );

  it('never processes one key twice at once, and processes every added key after it was added', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { clock, queue } = aQueue({ backoffBaseMs: 10, backoffMaxMs: 200 });
        const active: string[] = [];
        let step = 0;
        const lastAdded = new Map<string, number>();
        const lastStarted = new Map<string, number>();
        const take = (): void => {
          const k = queue.tryGet();
          if (k === undefined) return;
          expect(active).not.toContain(k);
          active.push(k);
          lastStarted.set(k, (step += 1));
        };
        const finish = (index: number, outcome: 'ok' | 'error' | 'requeue'): void => {
          const k = active.splice(index, 1)[0];
          if (k === undefined) return;
          if (outcome === 'error') queue.addRateLimited(k);
          if (outcome === 'requeue') queue.addAfter(k, 50);
          queue.done(k);
        };
        for (const o of ops) {
          if (o.kind === 'add') {
            queue.add(o.key);
            lastAdded.set(o.key, (step += 1));
          } else if (o.kind === 'take') take();
          else if (o.kind === 'finish') finish(o.worker % Math.max(1, active.length), o.outcome);
          else clock.advance(o.ms);
        }
        // Faults stop: finish everything, then drain with passes that succeed.
        while (active.length > 0) finish(0, 'ok');
        for (let round = 0; round < 100; round += 1) {
          clock.advance(1000);
          let k = queue.tryGet();
          while (k !== undefined) {
            lastStarted.set(k, (step += 1));
            queue.done(k);
            k = queue.tryGet();
          }
        }
        for (const [k, addedAt] of lastAdded) expect(lastStarted.get(k) ?? 0).toBeGreaterThan(addedAt);
      }),
      { numRuns: 300 },
    );
  });
});
