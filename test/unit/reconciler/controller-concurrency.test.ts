import { describe, expect, it } from 'vitest';
import type { FleetProvider } from '../../../src/fleet/fleet-provider.js';
import type { Codespace } from '../../../src/model/codespace.js';
import { CodeyardError } from '../../../src/model/errors.js';
import type { Heartbeat } from '../../../src/model/node.js';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { Controller } from '../../../src/reconciler/controller.js';
import { Fencer } from '../../../src/reconciler/fencer.js';
import { processNext } from '../../../src/reconciler/reconcile-result.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import { aCodespace, aHeartbeat, anObservedContainer, fixtureEpochMs } from '../../support/fixtures.js';
import { RecordingAgentClient } from '../../support/sim/recording-agent-client.js';

const noFleet: Pick<FleetProvider, 'terminate' | 'describe'> = {
  terminate: async () => undefined,
  describe: async () => ({ fleet: 'local', minSize: 0, maxSize: 1, desiredCapacity: 0, instances: [] }),
};

/** A memory store whose codespace writes can be watched, held back and refused. */
async function setup() {
  const clock = new SimulatedClock(fixtureEpochMs);
  const memory = new MemoryStore({ nowMs: () => clock.nowMs() });
  const writes: string[] = [];
  const refuseNext = new Set<string>();
  let gate: Promise<void> | undefined;
  const store = new Proxy(memory, {
    get(target, property, receiver) {
      if (property === 'updateCodespace') {
        return async (codespace: Codespace, options: Parameters<Store['updateCodespace']>[1]) => {
          const name = codespace.metadata.name;
          writes.push(name);
          if (gate !== undefined) await gate;
          if (refuseNext.delete(name)) throw new CodeyardError('CONFLICT', `${name} changed meanwhile`);
          return target.updateCodespace(codespace, options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const agents = new RecordingAgentClient();
  const { epoch } = await memory.tryAcquireLeadership({ holder: 'a', leaseDurationMs: 3_600_000 });
  const controller = new Controller({
    store,
    agents,
    fencer: new Fencer({ fleet: noFleet, clock }),
    clock,
    leaderEpoch: () => epoch,
  });
  // Fixed URLs: the fixtures draw fresh ones per beat, which would be a real change.
  const beat = async (overrides: Partial<Heartbeat>) => {
    const urls = { agentUrl: 'http://127.0.0.1:1/agent', proxyUrl: 'http://127.0.0.1:1/proxy' };
    await memory.applyHeartbeat(aHeartbeat({ sequence: clock.nowMs(), ...urls, ...overrides }), {
      receivedAtMs: clock.nowMs(),
    });
  };
  const drain = async () => {
    for (let i = 0; i < 200 && (await processNext(controller.queue, (k) => controller.reconcile(k))); i += 1);
  };
  const hold = (): (() => void) => {
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    return () => {
      gate = undefined;
      open();
    };
  };
  return { clock, memory, agents, controller, writes, refuseNext, hold, beat, drain };
}

const oneSlot = { slots: 2, cpu: 64, memoryMiB: 1_000_000 };

describe('Controller with writes in flight', () => {
  it('never places more codespaces on a node than it has slots while their writes overlap', async () => {
    const { memory, controller, hold, beat } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1', capacity: oneSlot, allocatable: oneSlot });
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) {
      await memory.createCodespace(aCodespace({ name, uid: `u-${name}` }), { maxPerOwner: 10 });
    }
    await controller.relist();
    await controller.pollNodes();
    const release = hold();
    const passes = names.map((name) => controller.reconcile(`cs/${name}`));
    release();
    await Promise.all(passes);
    const stored = await Promise.all(names.map((name) => memory.getCodespace(name)));
    expect(stored.filter((c) => c?.status.nodeName === 'n1')).toHaveLength(2);
    expect(stored.filter((c) => c?.status.phase === 'Pending')).toHaveLength(3);
  });

  it('gives the reserved capacity back when the store refuses the write', async () => {
    const { memory, controller, refuseNext, beat } = await setup();
    const single = { slots: 1, cpu: 64, memoryMiB: 1_000_000 };
    await beat({ nodeName: 'n1', bootId: 'b1', capacity: single, allocatable: single });
    await memory.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await memory.createCodespace(aCodespace({ name: 'b', uid: 'ub' }), { maxPerOwner: 10 });
    await controller.relist();
    await controller.pollNodes();
    refuseNext.add('a');
    await expect(controller.reconcile('cs/a')).rejects.toMatchObject({ code: 'CONFLICT' });
    await controller.reconcile('cs/b');
    expect((await memory.getCodespace('b'))?.status.nodeName).toBe('n1');
    expect((await memory.getCodespace('a'))?.status.phase).toBe('Pending');
  });

  it('does not tell a node about a placement until the store has accepted it', async () => {
    const { memory, controller, hold, beat } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await memory.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await controller.relist();
    await controller.pollNodes();
    const release = hold();
    const pass = controller.reconcile('cs/a');
    await Promise.resolve();
    expect(controller.assignmentsFor('n1').assignments).toEqual([]);
    release();
    await pass;
    expect(controller.assignmentsFor('n1').assignments.map((a) => a.uid)).toEqual(['ua']);
  });

  it('plans a key again only after its own write in flight has landed', async () => {
    const { memory, controller, agents, writes, hold, beat } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await memory.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await controller.relist();
    await controller.pollNodes();
    const release = hold();
    const first = controller.reconcile('cs/a');
    const second = controller.reconcile('cs/a');
    await Promise.resolve();
    expect(writes).toEqual(['a']);
    expect(agents.commands).toEqual([]);
    release();
    await Promise.all([first, second]);
    // The second pass planned from the stored placement (start the container), not from Pending.
    expect((await memory.getCodespace('a'))?.status.phase).toBe('Scheduled');
    expect(agents.commands.map((c) => [c.kind, c.node])).toEqual([['ensureRunning', 'n1']]);
  });
});

describe('Controller resync over a calm cluster', () => {
  it('skips keys whose inputs are unchanged, writes nothing and sends nothing, even as beats arrive', async () => {
    const { clock, memory, controller, agents, writes, beat, drain } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await memory.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await controller.relist();
    await controller.pollNodes();
    await drain();
    const container = anObservedContainer({ uid: 'ua', name: 'a', state: 'running', ready: true });
    const running = () => beat({ nodeName: 'n1', bootId: 'b1', containers: [container] });
    clock.advance(1_000);
    await running();
    await controller.pollNodes();
    await drain();
    expect((await memory.getCodespace('a'))?.status.phase).toBe('Running');
    controller.resync();
    await drain(); // the first calm pass plans (to nothing) and remembers it
    const writesBefore = writes.length;
    const commandsBefore = agents.commands.length;
    const skippedBefore = controller.skippedPasses;
    for (let round = 0; round < 3; round += 1) {
      clock.advance(5_000);
      await running();
      await controller.pollNodes();
      await controller.relist();
      controller.resync();
      await drain();
    }
    expect(writes.length).toBe(writesBefore);
    expect(agents.commands.length).toBe(commandsBefore);
    expect(controller.skippedPasses - skippedBefore).toBeGreaterThanOrEqual(3);
  });

  it('plans a skipped key again as soon as its container changes', async () => {
    const { clock, memory, controller, beat, drain } = await setup();
    await beat({ nodeName: 'n1', bootId: 'b1' });
    await memory.createCodespace(aCodespace({ name: 'a', uid: 'ua' }), { maxPerOwner: 10 });
    await controller.relist();
    await controller.pollNodes();
    await drain();
    const container = anObservedContainer({ uid: 'ua', name: 'a', state: 'running', ready: true });
    const report = (state: 'running' | 'exited') =>
      beat({
        nodeName: 'n1',
        bootId: 'b1',
        containers: [{ ...container, state, ready: state === 'running' }],
      });
    clock.advance(1_000);
    await report('running');
    await controller.pollNodes();
    await drain();
    expect((await memory.getCodespace('a'))?.status.phase).toBe('Running');
    controller.resync();
    await drain();
    clock.advance(5_000);
    await report('exited');
    await controller.pollNodes();
    controller.resync();
    await drain();
    const status = (await memory.getCodespace('a'))?.status;
    expect(status?.phase).not.toBe('Running');
    expect(status?.stopReason).toBe('Crashed');
  });
});
