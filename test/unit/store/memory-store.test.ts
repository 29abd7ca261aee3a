import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aCodespace } from '../../support/fixtures.js';
import { expectCode, storeContract, takeEvents, watchIterator } from './store-contract.js';

storeContract('MemoryStore', async (options) => new MemoryStore(options));

describe('MemoryStore', () => {
  it('expires leases on its injected clock', async () => {
    let nowMs = 1_000;
    const store = new MemoryStore({ nowMs: () => nowMs });
    const a = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 500 });
    nowMs += 499;
    expect((await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 500 })).acquired).toBe(false);
    nowMs += 1;
    expect(await store.tryAcquireLeadership({ holder: 'b', leaseDurationMs: 500 })).toEqual({
      acquired: true,
      epoch: a.epoch + 1,
      holder: 'b',
    });
    await store.close();
  });

  it('keeps exactly historyLimit events and resumes from the oldest retained one', async () => {
    const store = new MemoryStore({ historyLimit: 3 });
    for (let index = 0; index < 10; index += 1) {
      await store.createCodespace(aCodespace(), { maxPerOwner: 100 });
    }
    const controller = new AbortController();
    await expectCode(
      watchIterator(store, { fromResourceVersion: 6, signal: controller.signal }).next(),
      'RESOURCE_VERSION_TOO_OLD',
    );
    const events = await takeEvents(
      watchIterator(store, { fromResourceVersion: 7, signal: controller.signal }),
      3,
    );
    expect(events.map((event) => event.resourceVersion)).toEqual([8, 9, 10]);
    controller.abort();
    await store.close();
  });

  it('hands out frozen watch events so one consumer cannot change what another sees', async () => {
    const store = new MemoryStore();
    await store.createCodespace(aCodespace(), { maxPerOwner: 100 });
    const controller = new AbortController();
    const [event] = await takeEvents(
      watchIterator(store, { fromResourceVersion: 0, signal: controller.signal }),
      1,
    );
    expect(Object.isFrozen(event!.object.metadata)).toBe(true);
    controller.abort();
    await store.close();
  });

  it('refuses calls after close with STORE_UNAVAILABLE', async () => {
    const store = new MemoryStore();
    await store.close();
    await expectCode(store.getCodespace('x'), 'STORE_UNAVAILABLE');
  });
});
