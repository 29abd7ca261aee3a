import { describe, expect, it } from 'vitest';
import type { FleetDescription, FleetProvider } from '../../../src/fleet/fleet-provider.js';
import { CodeyardError } from '../../../src/model/errors.js';
import type { Heartbeat } from '../../../src/model/node.js';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { Controller } from '../../../src/reconciler/controller.js';
import { controllerTimingDefaults } from '../../../src/reconciler/controller-options.js';
import { Fencer } from '../../../src/reconciler/fencer.js';
import { processNext } from '../../../src/reconciler/reconcile-result.js';
import { startReconciler } from '../../../src/reconciler/start-reconciler.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { generateSigningKey, SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { aCodespace, aHeartbeat, anObservedContainer, fixtureEpochMs } from '../../support/fixtures.js';
import { RecordingAgentClient } from '../../support/sim/recording-agent-client.js';

function fakeFleet() {
  const terminated = new Set<string>();
  const fleet: Pick<FleetProvider, 'terminate' | 'describe'> = {
    terminate: async (name) => {
      terminated.add(name);
    },
    describe: async (): Promise<FleetDescription> => ({
      fleet: 'local',
      minSize: 0,
      maxSize: 10,
      desiredCapacity: 0,
      instances: [...terminated].map((nodeName) => ({ nodeName, lifecycle: 'Terminated' as const })),
    }),
  };
  return { fleet, terminated };
}

async function setup(options: { leading?: boolean } = {}) {
  const clock = new SimulatedClock(fixtureEpochMs);
  const store = new MemoryStore({ nowMs: () => clock.nowMs() });
  const agents = new RecordingAgentClient();
  const { fleet, terminated } = fakeFleet();
  const { epoch } = await store.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 3_600_000 });
  let leading = options.leading ?? true;
  const controller = new Controller({
    store,
    agents,
    fencer: new Fencer({ fleet, clock }),
    clock,
    leaderEpoch: () => (leading ? epoch : undefined),
  });
  const beat = async (overrides: Partial<Heartbeat>) => {
    await store.applyHeartbeat(aHeartbeat({ sequence: clock.nowMs(), ...overrides }), {
      receivedAtMs: clock.nowMs(),
    });
  };
  const drain = async () => {
    for (let i = 0; i < 100 && (await processNext(controller.queue, (k) => controller.reconcile(k))); i += 1);
  };
  const sync = async () => {
    await controller.relist();
    await controller.pollNodes();
    await drain();
  };
  return {
    clock,
    store,
    agents,
    controller,
    epoch,
    terminated,
    beat,
    sync,
    drain,
    setLeading: (v: boolean) => (leading = v),
  };
}

describe('Controller', () => {
  it('places a new codespace, commands its node, and lists it in the node heartbeat answer', async () => {
    const { store, agents, controller, epoch, beat, sync } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await store.createCodespace(aCodespace({ name: 'web', uid: 'u1' }), { maxPerOwner: 10 });
    await sync();
    expect(agents.commands.map((c) => [c.kind, c.node, c.epoch])).toEqual([['ensureRunning', 'n1', epoch]]);
    expect((await store.getCodespace('web'))?.status).toMatchObject({ phase: 'Scheduled', nodeName: 'n1' });
    expect(controller.assignmentsFor('n1')).toEqual({
      epoch,
      assignments: [{ uid: 'u1', name: 'web', owner: 'alice', generation: 1, running: true }],
    });
    expect(controller.assignmentsFor('n2').assignments).toEqual([]);
  });

  it('counts its own placements between heartbeats so it never overcommits a node', async () => {
    const { store, beat, sync } = await setup();
    await beat({
      nodeName: 'n1',
      bootId: 'b1',
      capacity: { slots: 1, cpu: 4, memoryMiB: 8192 },
      allocatable: { slots: 1, cpu: 4, memoryMiB: 8192 },
    });
    await store.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await store.createCodespace(aCodespace({ name: 'b', uid: 'ub' }), { maxPerOwner: 10 });
    await sync();
    const phases = [
      (await store.getCodespace('a'))?.status.phase,
      (await store.getCodespace('b'))?.status.phase,
    ];
    expect(phases).toEqual(['Scheduled', 'Pending']);
  });

  it('does nothing while it does not lead, and answers heartbeats with epoch 0', async () => {
    const { store, agents, controller, beat, sync } = await setup({ leading: false });
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await store.createCodespace(aCodespace({ name: 'web', uid: 'u1' }), { maxPerOwner: 10 });
    await sync();
    expect(agents.commands).toEqual([]);
    expect((await store.getCodespace('web'))?.status.phase).toBe('Pending');
    expect(controller.assignmentsFor('n1')).toEqual({ epoch: 0, assignments: [] });
  });

  it('fences a lost node through the fleet and only then moves its codespace', async () => {
    const { clock, store, terminated, beat, sync } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await beat({ nodeName: 'n2', bootId: 'b2' });
    await beat({ nodeName: 'n3', bootId: 'b3' });
    await store.createCodespace(aCodespace({ name: 'web', uid: 'u1' }), { maxPerOwner: 10 });
    await sync();
    const placed = (await store.getCodespace('web'))?.status.nodeName as string;
    const others = ['n1', 'n2', 'n3'].filter((n) => n !== placed);
    // The node falls silent; the others keep beating.
    for (let s = 0; s < 130; s += 5) {
      clock.advance(5_000);
      for (const [i, name] of others.entries()) await beat({ nodeName: name, bootId: `b${name}${i}` });
      await sync();
      if (s < 100) {
        expect(terminated.size).toBe(0);
        expect((await store.getCodespace('web'))?.status.nodeName).toBe(placed);
      }
    }
    expect([...terminated]).toEqual([placed]);
    const moved = await store.getCodespace('web');
    expect(moved?.status.nodeName).not.toBe(placed);
    expect(moved?.status.stopReason).toBe('NodeLost');
  });

  it('fences nobody when most nodes fall silent at once', async () => {
    const { clock, store, terminated, beat, sync } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await beat({ nodeName: 'n2', bootId: 'b2' });
    await beat({ nodeName: 'n3', bootId: 'b3' });
    await store.createCodespace(aCodespace({ name: 'web', uid: 'u1' }), { maxPerOwner: 10 });
    await sync();
    for (let s = 0; s < 300; s += 5) {
      clock.advance(5_000);
      await beat({ nodeName: 'n3', bootId: 'b3', sequence: clock.nowMs() });
      await sync();
    }
    expect(terminated.size).toBe(0);
  });

  it('restarts its grace clocks after its own blind spell instead of fencing everyone', async () => {
    const { clock, store, terminated, controller, beat, sync } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await beat({ nodeName: 'n2', bootId: 'b2' });
    await beat({ nodeName: 'n3', bootId: 'b3' });
    await sync();
    const listNodes = store.listNodes.bind(store);
    store.listNodes = async () => {
      throw new CodeyardError('STORE_UNAVAILABLE', 'down');
    };
    // Ten minutes without seeing anything: the nodes' beats were not recorded either.
    for (let s = 0; s < 600; s += 5) {
      clock.advance(5_000);
      await controller.pollNodes().catch(() => undefined);
    }
    store.listNodes = listNodes;
    await beat({ nodeName: 'n1', bootId: 'b1', sequence: clock.nowMs() });
    await sync();
    expect(controller.judgeNodes().map((n) => n.health)).toEqual(['Ready', 'Ready', 'Ready']);
    clock.advance(60_000);
    await beat({ nodeName: 'n1', bootId: 'b1', sequence: clock.nowMs() });
    await sync();
    expect(terminated.size).toBe(0);
  });

  it('does not remove a container whose codespace the store has although the cache missed it', async () => {
    const { store, agents, controller, beat, drain } = await setup();
    await controller.relist();
    await store.createCodespace(aCodespace({ name: 'new', uid: 'u-new' }), { maxPerOwner: 10 });
    await beat({
      nodeName: 'n1',
      bootId: 'b1',
      containers: [anObservedContainer({ uid: 'u-new', name: 'new' })],
    });
    await controller.pollNodes();
    await drain();
    expect(agents.commands.filter((c) => c.kind === 'remove')).toEqual([]);
  });

  it('removes containers of codespaces that no longer exist', async () => {
    const { agents, beat, sync } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1', containers: [anObservedContainer({ uid: 'ghost' })] });
    await sync();
    expect(agents.commands.map((c) => [c.kind, c.node, c.uid])).toEqual([['remove', 'n1', 'ghost']]);
  });

  it('sends an orphan removal again only after orphanRemovalRetryMs while the node still reports it', async () => {
    const { clock, agents, controller, beat, sync, drain } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1', containers: [anObservedContainer({ uid: 'ghost' })] });
    await sync();
    const removals = () => agents.commands.filter((c) => c.kind === 'remove').length;
    expect(removals()).toBe(1);
    // The agent is still removing it; the node's key comes up every second (a resync, a flag change).
    const retrySeconds = controllerTimingDefaults.orphanRemovalRetryMs / 1_000;
    for (let second = 1; second <= retrySeconds; second += 1) {
      clock.advance(1_000);
      controller.queue.add('node/n1');
      await drain();
      expect(removals()).toBe(second < retrySeconds ? 1 : 2);
    }
  });

  it('paces removals to an agent that fails them instead of retrying with the key backoff', async () => {
    const { clock, agents, beat, sync, drain } = await setup();
    agents.failWith('n1', new Error('connection refused'));
    let attempts = 0;
    const remove = agents.remove.bind(agents);
    agents.remove = (target, uid) => {
      attempts += 1;
      return remove(target, uid);
    };
    await beat({ nodeName: 'n1', bootId: 'b1', containers: [anObservedContainer({ uid: 'g1' })] });
    await sync();
    // The key backoff alone (100 ms doubling) would retry ~5 times in these 3 s.
    for (let step = 0; step < 30; step += 1) {
      clock.advance(100);
      await drain();
    }
    expect(attempts).toBe(1);
    clock.advance(controllerTimingDefaults.orphanRemovalRetryMs);
    await drain();
    expect(attempts).toBe(2);
  });
});

describe('startReconciler', () => {
  it('runs the whole loop on its own timers and stops cleanly', async () => {
    const store = new MemoryStore();
    const agents = new RecordingAgentClient();
    const keyRing = new SigningKeyRing([await generateSigningKey(Date.now())]);
    const running = startReconciler({
      store,
      keyRing,
      agents,
      fleet: fakeFleet().fleet,
      holder: 'replica-1',
      timing: { nodePollIntervalMs: 50, resyncIntervalMs: 1_000 },
    });
    try {
      await store.applyHeartbeat(aHeartbeat({ nodeName: 'n1' }), { receivedAtMs: Date.now() });
      await store.createCodespace(aCodespace({ name: 'web', uid: 'u1' }), { maxPerOwner: 10 });
      const deadline = Date.now() + 5_000;
      while (agents.commands.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(agents.commands[0]).toMatchObject({ kind: 'ensureRunning', node: 'n1', uid: 'u1' });
      const answer = await running.assignmentsFor('n1');
      expect(answer.epoch).toBeGreaterThan(0);
      expect(answer.assignments.map((a) => a.uid)).toEqual(['u1']);
    } finally {
      await running.stop();
    }
    // Leadership was released: another replica can lead at once.
    expect((await store.tryAcquireLeadership({ holder: 'replica-2', leaseDurationMs: 1_000 })).acquired).toBe(
      true,
    );
  });
});
