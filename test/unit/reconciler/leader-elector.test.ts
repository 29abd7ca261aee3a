import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { LeaderElector, type LeadershipStore } from '../../../src/reconciler/leader-elector.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aHeartbeat, fixtureEpochMs } from '../../support/fixtures.js';

function setup() {
  const clock = new SimulatedClock(fixtureEpochMs);
  const store = new MemoryStore({ nowMs: () => clock.nowMs() });
  const events: string[] = [];
  const elector = (holder: string, storeOverride: LeadershipStore = store) =>
    new LeaderElector({
      store: storeOverride,
      clock,
      holder,
      onStartedLeading: (epoch) => events.push(`${holder} leads ${epoch}`),
      onStoppedLeading: () => events.push(`${holder} stops`),
    });
  return { clock, store, events, elector };
}

/** A store whose lease calls hang once `hang` is set: the leader's store is unreachable. */
function hangingStore(store: MemoryStore): LeadershipStore & { hang: boolean } {
  const wrapper = {
    hang: false,
    tryAcquireLeadership: (o: Parameters<MemoryStore['tryAcquireLeadership']>[0]) =>
      wrapper.hang ? new Promise<never>(() => {}) : store.tryAcquireLeadership(o),
    renewLeadership: (o: Parameters<MemoryStore['renewLeadership']>[0]) =>
      wrapper.hang ? new Promise<never>(() => {}) : store.renewLeadership(o),
    releaseLeadership: (o: Parameters<MemoryStore['releaseLeadership']>[0]) => store.releaseLeadership(o),
    raiseEpochAtLeast: (e: number) => store.raiseEpochAtLeast(e),
    listNodes: () => (wrapper.hang ? new Promise<never>(() => {}) : store.listNodes()),
  };
  return wrapper;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('LeaderElector', () => {
  it('lets one replica lead at a time', async () => {
    const { elector, events } = setup();
    const a = elector('a');
    const b = elector('b');
    await a.tick();
    await b.tick();
    expect(a.epochIfLeading()).toBe(1);
    expect(b.epochIfLeading()).toBeUndefined();
    expect(events).toEqual(['a leads 1']);
  });

  it('stops acting at its own renew deadline when the store stops answering, without any callback', async () => {
    const { clock, store, elector } = setup();
    const hanging = hangingStore(store);
    const a = elector('a', hanging);
    await a.tick();
    expect(a.epochIfLeading()).toBe(1);
    hanging.hang = true;
    void a.tick(); // a renewal that never returns
    clock.advance(9_999);
    expect(a.epochIfLeading()).toBe(1);
    clock.advance(1);
    expect(a.epochIfLeading()).toBeUndefined();
  });

  it('hands over after the lease expires, and the old leader can no longer write', async () => {
    const { clock, store, elector, events } = setup();
    const hanging = hangingStore(store);
    const a = elector('a', hanging);
    const b = elector('b');
    await a.tick();
    hanging.hang = true;
    clock.advance(14_999);
    await b.tick();
    expect(b.epochIfLeading()).toBeUndefined();
    clock.advance(1);
    await b.tick();
    expect(b.epochIfLeading()).toBe(2);
    expect(a.epochIfLeading()).toBeUndefined();
    expect(events).toEqual(['a leads 1', 'a stops', 'b leads 2']);
    const created = await store.createCodespace(
      (await import('../../support/fixtures.js')).aCodespace({ name: 'x' }),
      {
        maxPerOwner: 10,
      },
    );
    await expect(
      store.updateCodespace(created, {
        expectedResourceVersion: created.metadata.resourceVersion,
        fence: { leaderEpoch: 1 },
      }),
    ).rejects.toMatchObject({ code: 'STALE_EPOCH' });
  });

  it('renews on its interval and keeps leading', async () => {
    const { clock, elector } = setup();
    const a = elector('a');
    const b = elector('b');
    a.start();
    for (let i = 0; i < 60; i += 1) {
      clock.advance(1_000);
      await flush();
      if (i % 5 === 0) await b.tick();
    }
    expect(a.epochIfLeading()).toBe(1);
    expect(b.epochIfLeading()).toBeUndefined();
    await a.stop();
  });

  it('releases on stop so another replica takes over at once', async () => {
    const { elector } = setup();
    const a = elector('a');
    const b = elector('b');
    await a.tick();
    await a.stop();
    await b.tick();
    expect(b.epochIfLeading()).toBe(2);
  });

  it('raises its epoch above what nodes accepted after the store lost its counter', async () => {
    const { elector, store } = setup();
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', highestEpoch: 7 }), {
      receivedAtMs: fixtureEpochMs,
    });
    const a = elector('a');
    let wait = await a.tick();
    expect(a.epochIfLeading()).toBeUndefined();
    expect(wait).toBe(0);
    wait = await a.tick();
    expect(a.epochIfLeading()).toBe(8);
  });

  it('checks the nodes again when one refuses a command as from an older epoch', async () => {
    const { elector, store } = setup();
    const a = elector('a');
    await a.tick();
    expect(a.epochIfLeading()).toBe(1);
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1', highestEpoch: 4 }), {
      receivedAtMs: fixtureEpochMs,
    });
    a.reportStaleEpoch();
    await a.tick();
    expect(a.epochIfLeading()).toBeUndefined();
    await a.tick();
    expect(a.epochIfLeading()).toBe(5);
  });
});
