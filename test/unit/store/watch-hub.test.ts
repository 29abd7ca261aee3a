import { describe, expect, it } from 'vitest';
import { CodeyardError } from '../../../src/model/errors.js';
import type { WatchEvent } from '../../../src/model/events.js';
import { watchBatchEventsMax, type WatchSubscriptionOptions } from '../../../src/store/store.js';
import { WatchHub, type WatchSource } from '../../../src/store/watch-hub.js';
import { aCodespace } from '../../support/fixtures.js';
import { takeEvents } from './store-contract.js';

/** A source whose history and live feed the test drives by hand. */
class ScriptedSource implements WatchSource {
  history: WatchEvent[] = [];
  deliver: ((events: readonly WatchEvent[]) => void) | undefined;
  startFailures = 0;
  starts = 0;
  reads = 0;

  append(count: number): WatchEvent[] {
    const first = this.history.length + 1;
    const events = Array.from({ length: count }, (_, index) => ({
      type: 'ADDED' as const,
      resourceVersion: first + index,
      object: aCodespace(),
    }));
    this.history.push(...events);
    return events;
  }

  async readAfter(after: number, limit: number): Promise<readonly WatchEvent[]> {
    this.reads += 1;
    return this.history.filter((event) => event.resourceVersion > after).slice(0, limit);
  }

  async start(deliver: (events: readonly WatchEvent[]) => void): Promise<number> {
    this.starts += 1;
    if (this.startFailures > 0) {
      this.startFailures -= 1;
      throw new CodeyardError('STORE_UNAVAILABLE', 'backend down');
    }
    this.deliver = deliver;
    return this.history.length;
  }

  async stop(): Promise<void> {
    this.deliver = undefined;
  }
}

function iterate(hub: WatchHub, fromResourceVersion: number, signal: AbortSignal): AsyncIterator<WatchEvent> {
  return hub.watch({ fromResourceVersion, signal })[Symbol.asyncIterator]();
}

describe('WatchHub', () => {
  it('catches up through several history pages before following live events', async () => {
    const source = new ScriptedSource();
    source.append(2500);
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterator = iterate(hub, 0, controller.signal);
    const history = await takeEvents(iterator, 2500);
    expect(history.map((event) => event.resourceVersion)).toEqual(
      Array.from({ length: 2500 }, (_, index) => index + 1),
    );
    expect(source.reads).toBeGreaterThanOrEqual(3);
    const pending = takeEvents(iterator, 1);
    source.deliver!(source.append(1));
    expect((await pending)[0]!.resourceVersion).toBe(2501);
    controller.abort();
    await hub.close();
  });

  it('starts the live feed once for any number of watchers and ends them all on one shared signal', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterators = Array.from({ length: 50 }, () => iterate(hub, 0, controller.signal));
    const pending = iterators.map((iterator) => iterator.next());
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(source.starts).toBe(1);
    expect(hub.watcherCount).toBe(50);
    controller.abort();
    for (const result of await Promise.all(pending)) {
      expect(result.done).toBe(true);
    }
    expect(hub.watcherCount).toBe(0);
    await hub.close();
  });

  it('cuts every watcher off when the live feed jumps over versions', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterator = iterate(hub, 0, controller.signal);
    const first = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.deliver!(source.append(1));
    expect((await first).value?.resourceVersion).toBe(1);
    source.append(1); // version 2 is never delivered live
    const after = iterator.next();
    source.deliver!(source.append(1));
    expect((await after).done).toBe(true);
    controller.abort();
    await hub.close();
  });

  it('holds no more live events than the bufferLimit of a watcher that stops reading', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const stalled = hub.watch({ fromResourceVersion: 0, signal: controller.signal, bufferLimit: 10 });
    const iterator = stalled[Symbol.asyncIterator]();
    const first = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.deliver!(source.append(1));
    expect((await first).value?.resourceVersion).toBe(1);
    let heldMax = 0;
    for (let index = 0; index < 50; index += 1) {
      source.deliver!(source.append(1));
      heldMax = Math.max(heldMax, hub.heldEventCount);
    }
    expect(heldMax).toBeLessThanOrEqual(11);
    expect(hub.heldEventCount).toBe(0);
    expect(hub.watcherCount).toBe(0);
    expect((await iterator.next()).done).toBe(true);
    controller.abort();
    await hub.close();
  });

  it('cuts every watcher off when a live batch has a hole in it', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterator = iterate(hub, 0, controller.signal);
    const first = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const [one, , three] = source.append(3);
    source.deliver!([one!, three!]);
    expect((await first).done).toBe(true);
    controller.abort();
    await hub.close();
  });

  it('rejects the first next() when the feed cannot start, and tries again for the next watcher', async () => {
    const source = new ScriptedSource();
    source.startFailures = 1;
    const hub = new WatchHub(source);
    const controller = new AbortController();
    await expect(iterate(hub, 0, controller.signal).next()).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    const iterator = iterate(hub, 0, controller.signal);
    const pending = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.deliver!(source.append(1));
    expect((await pending).value?.resourceVersion).toBe(1);
    expect(source.starts).toBe(2);
    controller.abort();
    await hub.close();
  });

  it('ends an iteration when the consumer breaks out of its loop', async () => {
    const source = new ScriptedSource();
    source.append(3);
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const event of hub.watch({ fromResourceVersion: 0, signal: controller.signal })) {
      seen.push(event.resourceVersion);
      if (seen.length === 2) {
        break;
      }
    }
    expect(seen).toEqual([1, 2]);
    expect(hub.watcherCount).toBe(0);
    await hub.close();
  });
});

function iterateBatches(
  hub: WatchHub,
  options: { fromResourceVersion: number; signal: AbortSignal; bufferLimit?: number },
): AsyncIterator<readonly WatchEvent[], undefined> {
  return hub.watchBatches(options)[Symbol.asyncIterator]();
}

describe('WatchHub batches', () => {
  it('hands over a whole history page in one step, then each live delivery as one batch', async () => {
    const source = new ScriptedSource();
    source.append(30);
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterator = iterateBatches(hub, { fromResourceVersion: 10, signal: controller.signal });
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(first.value!.map((event) => event.resourceVersion)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 11),
    );
    const pending = iterator.next();
    source.deliver!(source.append(5));
    const live = await pending;
    expect(live.value!.map((event) => event.resourceVersion)).toEqual([31, 32, 33, 34, 35]);
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
    await hub.close();
  });

  it('gives the same events as the per-event watch, in order and once, across history and live deliveries', async () => {
    const source = new ScriptedSource();
    source.append(2500);
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const batches = iterateBatches(hub, { fromResourceVersion: 0, signal: controller.signal });
    const single = iterate(hub, 0, controller.signal);
    const versions: number[] = [];
    let steps = 0;
    while (versions.length < 2500) {
      const result = await batches.next();
      expect(result.done).toBe(false);
      expect(result.value!.length).toBeGreaterThan(0);
      versions.push(...result.value!.map((event) => event.resourceVersion));
      steps += 1;
    }
    // History pages of 1,000: three steps, not 2,500.
    expect(steps).toBeLessThanOrEqual(4);
    const live = batches.next();
    for (let delivery = 0; delivery < 3; delivery += 1) source.deliver!(source.append(4));
    versions.push(...(await live).value!.map((event) => event.resourceVersion));
    while (versions.length < 2512) {
      versions.push(...(await batches.next()).value!.map((event) => event.resourceVersion));
    }
    const expected = Array.from({ length: 2512 }, (_, index) => index + 1);
    expect(versions).toEqual(expected);
    const perEvent = await takeEvents(single, 2512);
    expect(perEvent.map((event) => event.resourceVersion)).toEqual(expected);
    controller.abort();
    await hub.close();
  });

  it('cuts off a batch watcher that falls more than bufferLimit events behind, and keeps no log for it', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const slow = iterateBatches(hub, { fromResourceVersion: 0, signal: controller.signal, bufferLimit: 5 });
    const first = slow.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.deliver!(source.append(1));
    expect((await first).value!.map((event) => event.resourceVersion)).toEqual([1]);
    for (let index = 0; index < 10; index += 1) source.deliver!(source.append(1));
    expect(hub.watcherCount).toBe(0);
    expect(hub.heldEventCount).toBe(0);
    expect((await slow.next()).done).toBe(true);
    controller.abort();
    await hub.close();
  });

  it('answers next() calls made before the previous one settled, in order, each with its own batch', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const iterator = iterateBatches(hub, { fromResourceVersion: 0, signal: controller.signal });
    const pending = [iterator.next(), iterator.next(), iterator.next()];
    await settle();
    source.deliver!(source.append(2));
    source.deliver!(source.append(1));
    const [first, second] = await Promise.all(pending.slice(0, 2));
    expect(first!.value!.map((event) => event.resourceVersion)).toEqual([1, 2]);
    expect(second!.value!.map((event) => event.resourceVersion)).toEqual([3]);
    controller.abort();
    expect((await pending[2]!).done).toBe(true);
    await hub.close();
  });

  it('reports RESOURCE_VERSION_TOO_OLD on the first step and detaches on return()', async () => {
    const source = new ScriptedSource();
    source.append(3);
    source.readAfter = async () => {
      throw new CodeyardError('RESOURCE_VERSION_TOO_OLD', 'compacted');
    };
    const hub = new WatchHub(source);
    const controller = new AbortController();
    const old = iterateBatches(hub, { fromResourceVersion: 0, signal: controller.signal });
    await expect(old.next()).rejects.toMatchObject({ code: 'RESOURCE_VERSION_TOO_OLD' });
    expect(hub.watcherCount).toBe(0);

    const current = iterateBatches(hub, { fromResourceVersion: 3, signal: controller.signal });
    const pending = current.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(hub.watcherCount).toBe(1);
    await current.return!();
    expect(hub.watcherCount).toBe(0);
    expect((await pending).done).toBe(true);
    controller.abort();
    await hub.close();
  });
});

/** A push subscriber that records its batches and how it ended. */
function recordingSubscriber(
  overrides: Partial<WatchSubscriptionOptions> = {},
): WatchSubscriptionOptions & { batches: (readonly WatchEvent[])[]; ends: (CodeyardError | undefined)[] } {
  const batches: (readonly WatchEvent[])[] = [];
  const ends: (CodeyardError | undefined)[] = [];
  return {
    fromResourceVersion: 0,
    onEvents: (events) => batches.push(events),
    onEnd: (error) => ends.push(error),
    ...overrides,
    batches,
    ends,
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('WatchHub push subscriptions', () => {
  it('hands every subscriber that keeps up the very array of a live delivery, before deliver returns', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const subscribers = Array.from({ length: 3 }, () => recordingSubscriber());
    const subscriptions = subscribers.map((subscriber) => hub.subscribe(subscriber));
    await settle();
    const delivered = source.append(4);
    source.deliver!(delivered);
    for (const subscriber of subscribers) {
      expect(subscriber.batches).toHaveLength(1);
      expect(subscriber.batches[0]).toBe(delivered);
    }
    expect(Object.isFrozen(delivered)).toBe(true);
    expect(hub.heldEventCount).toBe(0);
    subscriptions.forEach((subscription) => subscription.close());
    expect(hub.watcherCount).toBe(0);
    expect(subscribers.every((subscriber) => subscriber.ends.length === 0)).toBe(true);
    await hub.close();
  });

  it('finishes a delivery to every subscriber before one that a subscriber caused while handling it', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const order: string[] = [];
    let wrote = false;
    const writer = recordingSubscriber({
      onEvents: (events) => {
        order.push(`writer ${events[0]!.resourceVersion}`);
        if (!wrote) {
          wrote = true;
          // An in-process write from inside a callback delivers again, re-entering the hub.
          source.deliver!(source.append(1));
        }
      },
    });
    const reader = recordingSubscriber({
      onEvents: (events) => order.push(`reader ${events[0]!.resourceVersion}`),
    });
    hub.subscribe(writer);
    hub.subscribe(reader);
    await settle();
    source.deliver!(source.append(1));
    expect(order).toEqual(['writer 1', 'reader 1', 'writer 2', 'reader 2']);
    await hub.close();
  });

  it('catches a subscriber up from history even when it is paused and resumed before it attached', async () => {
    const source = new ScriptedSource();
    source.append(5);
    const hub = new WatchHub(source);
    const subscriber = recordingSubscriber({ fromResourceVersion: 1 });
    const subscription = hub.subscribe(subscriber);
    subscription.pause();
    subscription.resume();
    await settle();
    source.deliver!(source.append(1));
    expect(subscriber.batches.flat().map((event) => event.resourceVersion)).toEqual([2, 3, 4, 5, 6]);
    await hub.close();
  });

  it('splits a delivery larger than watchBatchEventsMax into batches of at most that many, in order', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const subscriber = recordingSubscriber();
    hub.subscribe(subscriber);
    await settle();
    source.deliver!(source.append(watchBatchEventsMax + 5));
    expect(subscriber.batches.map((batch) => batch.length)).toEqual([watchBatchEventsMax, 5]);
    expect(subscriber.batches.flat().map((event) => event.resourceVersion)).toEqual(
      Array.from({ length: watchBatchEventsMax + 5 }, (_, index) => index + 1),
    );
    await hub.close();
  });

  it('cuts off a paused subscriber past its bufferLimit with onEnd(undefined) and keeps no log for it', async () => {
    const source = new ScriptedSource();
    const hub = new WatchHub(source);
    const subscriber = recordingSubscriber({ bufferLimit: 5 });
    const subscription = hub.subscribe(subscriber);
    await settle();
    source.deliver!(source.append(1));
    subscription.pause();
    for (let index = 0; index < 5; index += 1) source.deliver!(source.append(1));
    expect(hub.heldEventCount).toBe(5);
    expect(subscriber.ends).toEqual([]);
    source.deliver!(source.append(1));
    expect(subscriber.ends).toEqual([undefined]);
    expect(hub.watcherCount).toBe(0);
    expect(hub.heldEventCount).toBe(0);
    expect(subscriber.batches.flat().map((event) => event.resourceVersion)).toEqual([1]);
    await hub.close();
  });

  it('reports a feed that cannot start through onEnd, and ends every subscriber when the hub closes', async () => {
    const source = new ScriptedSource();
    source.startFailures = 1;
    const hub = new WatchHub(source);
    const failed = recordingSubscriber();
    hub.subscribe(failed);
    await settle();
    expect(failed.ends.map((error) => error?.code)).toEqual(['STORE_UNAVAILABLE']);
    const live = recordingSubscriber();
    hub.subscribe(live);
    await settle();
    expect(hub.watcherCount).toBe(1);
    await hub.close();
    expect(live.ends).toEqual([undefined]);
  });
});
