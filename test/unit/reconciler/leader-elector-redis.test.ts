import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/reconciler/clock.js';
import { LeaderElector } from '../../../src/reconciler/leader-elector.js';
import { RedisStore } from '../../../src/store/redis/redis-store.js';
import { aCodespace, aHeartbeat } from '../../support/fixtures.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

// The elector against the production store: a real redis-server (fails loudly when missing).
const timing = {
  leaseDurationMs: 2_000,
  renewDeadlineMs: 800,
  renewIntervalMs: 300,
  retryPeriodMs: 100,
  storeCallTimeoutMs: 300,
};
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Ticks allowed to take the lease once it is free: on a loaded machine one store call can outlast
 * `storeCallTimeoutMs`, and the elector then simply tries again on its next tick.
 */
const acquireTicksMax = 5;

async function tickUntilLeading(elector: LeaderElector): Promise<number | undefined> {
  for (let i = 0; i < acquireTicksMax && elector.epochIfLeading() === undefined; i += 1) await elector.tick();
  return elector.epochIfLeading();
}

describe('LeaderElector on RedisStore', () => {
  let server: RedisServer;
  let store: RedisStore;

  beforeAll(async () => {
    server = await startRedisServer();
    store = await RedisStore.connect({ url: server.url, keyPrefix: `elector-${Date.now()}:` });
  });

  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('hands over after the lease expires, and the store refuses the old leader fenced writes', async () => {
    const a = new LeaderElector({ store, clock: systemClock, holder: 'a', timing });
    const b = new LeaderElector({ store, clock: systemClock, holder: 'b', timing });
    const first = await tickUntilLeading(a);
    await b.tick();
    expect(first).toBeGreaterThan(0);
    expect(b.epochIfLeading()).toBeUndefined();
    const created = await store.createCodespace(aCodespace({ name: 'fenced' }), { maxPerOwner: 10 });
    // a stops renewing (a pause): it stops acting at its own deadline, before the lease is free.
    await wait(timing.renewDeadlineMs + 20);
    expect(a.epochIfLeading()).toBeUndefined();
    await b.tick();
    expect(b.epochIfLeading()).toBeUndefined();
    await wait(timing.leaseDurationMs - timing.renewDeadlineMs + 50);
    const second = await tickUntilLeading(b);
    expect(second).toBeGreaterThan(first as number);
    await expect(
      store.updateCodespace(created, {
        expectedResourceVersion: created.metadata.resourceVersion,
        fence: { leaderEpoch: first as number },
      }),
    ).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await b.stop();
  });

  it('leads above the highest epoch nodes report after the store lost its counter', async () => {
    await store.applyHeartbeat(aHeartbeat({ nodeName: 'n9', highestEpoch: 41 }), {
      receivedAtMs: Date.now(),
    });
    const c = new LeaderElector({ store, clock: systemClock, holder: 'c', timing });
    expect(await tickUntilLeading(c)).toBeGreaterThan(41);
    await c.stop();
  });
});
