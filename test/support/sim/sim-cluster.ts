import type { Codespace, CodespaceSpec } from '../../../src/model/codespace.js';
import type { Heartbeat } from '../../../src/model/node.js';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { reconcilerConfigDefaults, type ReconcilerConfig } from '../../../src/reconciler/config.js';
import { Controller } from '../../../src/reconciler/controller.js';
import { Fencer } from '../../../src/reconciler/fencer.js';
import { LeaderElector } from '../../../src/reconciler/leader-elector.js';
import { processNext } from '../../../src/reconciler/reconcile-result.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aCodespace, fixtureEpochMs } from '../fixtures.js';
import { SimAgentClient } from './sim-agent-client.js';
import { flakyStore } from './flaky-store.js';
import { SimFleet } from './sim-fleet.js';

/** Faster clocks than production so a schedule settles in a few simulated minutes. */
export const simConfig: ReconcilerConfig = {
  ...reconcilerConfigDefaults,
  scheduledDeadlineMs: 30_000,
  startingDeadlineMs: 30_000,
  stoppingDeadlineMs: 30_000,
  deletingDeadlineMs: 60_000,
  restartLimit: 3,
  restartBackoffBaseMs: 2_000,
  restartBackoffMaxMs: 8_000,
  restartCountResetAfterMs: 60_000,
  unschedulableRetryMs: 5_000,
  nodeNotReadyAfterMs: 12_000,
  nodeLostGraceMs: 30_000,
};

export const heartbeatIntervalSec = 5;

export type SimEvent =
  | { readonly kind: 'create'; readonly running: boolean }
  | { readonly kind: 'flip'; readonly codespace: number }
  | { readonly kind: 'delete'; readonly codespace: number }
  | {
      readonly kind: 'nodeCrash';
      readonly node: number;
      readonly containersSurvive: boolean;
      readonly downSec: number;
    }
  | { readonly kind: 'containerCrash'; readonly node: number; readonly pick: number }
  | { readonly kind: 'idleStop'; readonly node: number; readonly pick: number }
  | { readonly kind: 'flaky'; readonly node: number; readonly forSec: number }
  | {
      readonly kind: 'beats';
      readonly node: number;
      readonly mode: 'drop' | 'duplicate' | 'delay';
      readonly forSec: number;
    }
  | { readonly kind: 'leaderPause'; readonly forSec: number }
  | { readonly kind: 'storeOutage'; readonly forSec: number };

export interface SimSchedule {
  readonly nodeCount: number;
  readonly slotsPerNode: number;
  readonly events: ReadonlyArray<{ readonly atSec: number; readonly event: SimEvent }>;
}

export interface SimOptions {
  /** Events happen during this many simulated seconds; then every fault heals. */
  readonly faultSec: number;
  /** After the faults, everything must converge within this many simulated seconds. */
  readonly settleSec: number;
}

export interface SimResult {
  readonly ok: boolean;
  readonly failure?: string;
  readonly stepsRun: number;
  readonly terminations: number;
}

interface Replica {
  readonly holder: string;
  readonly elector: LeaderElector;
  readonly controller: Controller;
  pausedUntilSec: number;
  wasLeader: boolean;
}

interface Expected {
  name: string;
  spec: CodespaceSpec;
  deleted: boolean;
}

const passesPerStepMax = 200;
const debug = process.env.SIM_DEBUG === '1' ? (line: string) => console.log(line) : undefined;

/**
 * A deterministic cluster: simulated clock, MemoryStore, simulated nodes and fleet, and two
 * orchestrator replicas each with the real elector, controller, planner, queue and executor,
 * driven one simulated second at a time. Safety invariants are checked after every step;
 * convergence once the faults have healed.
 */
export async function runSimulation(schedule: SimSchedule, options: SimOptions): Promise<SimResult> {
  const clock = new SimulatedClock(fixtureEpochMs);
  const store = new MemoryStore({ nowMs: () => clock.nowMs() });
  const fleet = new SimFleet({ clock, nodeCount: schedule.nodeCount, slotsPerNode: schedule.slotsPerNode });
  const agents = new SimAgentClient(fleet);
  // What the orchestrator replicas (and the API recording heartbeats) see: it can go down.
  const network = flakyStore(store);
  let storeDownUntilSec = -1;
  const replicas: Replica[] = ['a', 'b'].map((holder) => {
    const elector = new LeaderElector({ store: network.store, clock, holder });
    const controller = new Controller({
      store: network.store,
      agents,
      fencer: new Fencer({ fleet, clock }),
      clock,
      leaderEpoch: () => elector.epochIfLeading(),
      onStaleEpoch: () => elector.reportStaleEpoch(),
      config: simConfig,
    });
    return { holder, elector, controller, pausedUntilSec: 0, wasLeader: false };
  });
  const expected: Expected[] = [];
  const flakyUntil = new Map<string, number>();
  const beatFaults = new Map<string, { mode: 'drop' | 'duplicate' | 'delay'; untilSec: number }>();
  const delayedBeats: Array<{ atSec: number; beat: Heartbeat }> = [];
  const downUntil = new Map<string, number>();
  const events = [...schedule.events].sort((a, b) => a.atSec - b.atSec);
  let nextEvent = 0;
  // The fault window closes when the last fault would have healed by itself (at most faultSec).
  const faultEndSec = Math.min(
    options.faultSec,
    events.reduce((end, { atSec, event }) => Math.max(end, atSec + faultDurationSec(event) + 1), 0),
  );
  const totalSec = faultEndSec + options.settleSec;

  const leader = (sec: number): Replica | undefined =>
    replicas.find((r) => r.pausedUntilSec <= sec && r.elector.epochIfLeading() !== undefined);

  const pickNode = (index: number) => {
    const live = fleet.liveNodes();
    return live[index % live.length];
  };

  const applyEvent = async (event: SimEvent, sec: number): Promise<void> => {
    switch (event.kind) {
      case 'create': {
        const name = `cs-${expected.length}`;
        const codespace = aCodespace({ name, uid: `uid-${expected.length}`, running: event.running });
        await store.createCodespace(codespace, { maxPerOwner: 1000 });
        expected.push({ name, spec: codespace.spec, deleted: false });
        return;
      }
      case 'flip': {
        const target = expected.filter((e) => !e.deleted)[event.codespace % Math.max(1, expected.length)];
        if (target === undefined) return;
        const current = await store.getCodespace(target.name);
        if (current === undefined || current.metadata.deletionTimestamp !== undefined) return;
        const next: Codespace = {
          ...current,
          metadata: { ...current.metadata, generation: current.metadata.generation + 1 },
          spec: { ...current.spec, running: !current.spec.running },
        };
        await store.updateCodespace(next, { expectedResourceVersion: current.metadata.resourceVersion });
        target.spec = next.spec;
        return;
      }
      case 'delete': {
        const target = expected.filter((e) => !e.deleted)[event.codespace % Math.max(1, expected.length)];
        if (target === undefined) return;
        await store.requestCodespaceDeletion(target.name, { now: new Date(clock.nowMs()).toISOString() });
        target.deleted = true;
        return;
      }
      case 'nodeCrash': {
        const node = pickNode(event.node);
        if (node === undefined || !node.up) return;
        node.crash({ containersSurvive: event.containersSurvive });
        downUntil.set(node.name, sec + event.downSec);
        return;
      }
      case 'containerCrash':
      case 'idleStop': {
        const node = pickNode(event.node);
        const running =
          node === undefined ? [] : [...node.containers.values()].filter((c) => c.state === 'running');
        const container = running[event.pick % Math.max(1, running.length)];
        if (node === undefined || container === undefined) return;
        if (event.kind === 'containerCrash') node.crashContainer(container.uid, 1);
        else node.idleStop(container.uid);
        return;
      }
      case 'flaky': {
        const node = pickNode(event.node);
        if (node === undefined) return;
        agents.flaky.add(node.name);
        flakyUntil.set(node.name, sec + event.forSec);
        return;
      }
      case 'beats': {
        const node = pickNode(event.node);
        if (node !== undefined) beatFaults.set(node.name, { mode: event.mode, untilSec: sec + event.forSec });
        return;
      }
      case 'storeOutage': {
        network.setDown(true);
        storeDownUntilSec = sec + event.forSec;
        return;
      }
      case 'leaderPause': {
        const current = leader(sec);
        if (current !== undefined) current.pausedUntilSec = sec + event.forSec;
        return;
      }
    }
  };

  const deliverBeat = async (beat: Heartbeat, sec: number): Promise<void> => {
    const result = await network.store
      .applyHeartbeat(beat, { receivedAtMs: clock.nowMs() })
      .catch(() => undefined);
    if (result === undefined) return; // the API could not record it: the node retries next beat
    const node = fleet.nodes.get(beat.nodeName);
    const answering = leader(sec);
    if (!result.accepted || node === undefined || answering === undefined) return;
    node.converge({ accepted: true, ...answering.controller.assignmentsFor(beat.nodeName) });
  };

  for (let sec = 0; sec < totalSec; sec += 1) {
    const faulting = sec < faultEndSec;
    while (faulting && nextEvent < events.length && (events[nextEvent] as { atSec: number }).atSec <= sec) {
      await applyEvent((events[nextEvent] as { event: SimEvent }).event, sec);
      nextEvent += 1;
    }
    // Heal what is due (and everything once the fault window closes).
    for (const [name, until] of downUntil) {
      if (until <= sec || !faulting) {
        fleet.nodes.get(name)?.restart();
        downUntil.delete(name);
      }
    }
    for (const [name, until] of flakyUntil) {
      if (until <= sec || !faulting) {
        agents.flaky.delete(name);
        flakyUntil.delete(name);
      }
    }
    for (const [name, fault] of beatFaults) if (fault.untilSec <= sec || !faulting) beatFaults.delete(name);
    if (!faulting) for (const replica of replicas) replica.pausedUntilSec = 0;
    if (storeDownUntilSec >= 0 && (storeDownUntilSec <= sec || !faulting)) {
      network.setDown(false);
      storeDownUntilSec = -1;
    }

    for (const node of fleet.liveNodes()) node.tick();
    for (let i = delayedBeats.length - 1; i >= 0; i -= 1) {
      const delayed = delayedBeats[i] as { atSec: number; beat: Heartbeat };
      if (delayed.atSec <= sec) {
        delayedBeats.splice(i, 1);
        await deliverBeat(delayed.beat, sec);
      }
    }
    for (const [index, node] of fleet.liveNodes().entries()) {
      if (!node.up || (sec + index) % heartbeatIntervalSec !== 0) continue;
      const fault = beatFaults.get(node.name);
      const beat = node.heartbeat();
      if (fault?.mode === 'drop') continue;
      if (fault?.mode === 'delay') {
        delayedBeats.push({ atSec: sec + 7, beat });
        continue;
      }
      await deliverBeat(beat, sec);
      if (fault?.mode === 'duplicate') await deliverBeat(beat, sec);
    }

    for (const replica of replicas) {
      if (replica.pausedUntilSec > sec) continue;
      if (sec % 2 === 0) await replica.elector.tick();
      const leading = replica.elector.epochIfLeading() !== undefined;
      if (leading && !replica.wasLeader) await replica.controller.onStartedLeading().catch(() => undefined);
      replica.wasLeader = leading;
      if (!leading) continue;
      try {
        await replica.controller.relist();
        await replica.controller.pollNodes();
      } catch {
        // A store outage: the passes below fail and are retried with backoff.
      }
      for (let pass = 0; pass < passesPerStepMax; pass += 1) {
        const worked = await processNext(
          replica.controller.queue,
          (key) => replica.controller.reconcile(key),
          {
            onError: (key, error) => debug?.(`${sec}s ${replica.holder} ${key}: ${String(error)}`),
          },
        );
        if (!worked) break;
      }
    }
    clock.advance(1_000);
    if (debug !== undefined) {
      // SIM_DEBUG=1: one line per codespace per step, with what every node holds.
      const nodesView = fleet
        .liveNodes()
        .map(
          (n) =>
            `${n.name}:${[...n.containers.values()].map((c) => `${c.uid}/${c.state}/${c.stopReason ?? ''}`).join(',')}`,
        )
        .join(' ');
      for (const c of (await store.listCodespaces()).items) {
        const { generation, uid } = c.metadata;
        debug(
          `${sec}s ${uid} g${generation} running=${c.spec.running} ${c.status.phase} ${c.status.nodeName ?? '-'} ${c.status.stopReason ?? ''} | ${nodesView}`,
        );
      }
    }
    const violation = await checkSafety(store, fleet, expected);
    if (violation !== undefined) {
      return {
        ok: false,
        failure: `at ${sec} s: ${violation}`,
        stepsRun: sec + 1,
        terminations: fleet.terminations,
      };
    }
    if (!faulting && (await convergenceProblem(store, fleet)) === undefined) {
      return { ok: true, stepsRun: sec + 1, terminations: fleet.terminations };
    }
  }
  const problem = await convergenceProblem(store, fleet);
  return {
    ok: problem === undefined,
    ...(problem === undefined
      ? {}
      : { failure: `not converged ${options.settleSec} s after faults ended: ${problem}` }),
    stepsRun: totalSec,
    terminations: fleet.terminations,
  };
}

function faultDurationSec(event: SimEvent): number {
  switch (event.kind) {
    case 'nodeCrash':
      return event.downSec;
    case 'flaky':
    case 'beats':
    case 'leaderPause':
    case 'storeOutage':
      return event.forSec;
    default:
      return 0;
  }
}

/** Never two live copies, never over capacity, never a spec lost. */
async function checkSafety(
  store: MemoryStore,
  fleet: SimFleet,
  expected: readonly Expected[],
): Promise<string | undefined> {
  const copies = new Map<string, string[]>();
  for (const node of fleet.liveNodes()) {
    let used = 0;
    for (const container of node.containers.values()) {
      if (container.state === 'exited') continue;
      used += 1;
      copies.set(container.uid, [...(copies.get(container.uid) ?? []), node.name]);
    }
    if (used > node.slots) return `node ${node.name} runs ${used} containers with ${node.slots} slots`;
  }
  for (const [uid, nodes] of copies) {
    if (nodes.length > 1) return `codespace ${uid} runs on ${nodes.join(' and ')}`;
  }
  for (const wanted of expected) {
    if (wanted.deleted) continue;
    const stored = await store.getCodespace(wanted.name);
    if (stored === undefined) return `codespace ${wanted.name} was lost`;
    const { running, ...rest } = stored.spec;
    const { running: wantedRunning, ...wantedRest } = wanted.spec;
    if (JSON.stringify(rest) !== JSON.stringify(wantedRest)) return `codespace ${wanted.name} spec changed`;
    if (running !== wantedRunning && !(wantedRunning && stored.status.stopReason === 'Idle')) {
      return `codespace ${wanted.name} running=${running}, the user asked ${wantedRunning}`;
    }
  }
  return undefined;
}

/**
 * Undefined once every codespace is where its spec wants it; otherwise what is still off. A
 * running codespace may wait in Pending for room only while every live slot is taken.
 */
export async function convergenceProblem(store: MemoryStore, fleet: SimFleet): Promise<string | undefined> {
  const { items } = await store.listCodespaces();
  const live = fleet.liveNodes();
  const runningOn = (uid: string) =>
    live
      .filter((n) => n.containers.get(uid) !== undefined && n.containers.get(uid)?.state !== 'exited')
      .map((n) => n.name);
  for (const codespace of items) {
    const { name, uid, deletionTimestamp } = codespace.metadata;
    const where = runningOn(uid);
    if (deletionTimestamp !== undefined) return `${name} is still being deleted (${codespace.status.phase})`;
    const crashLooped =
      codespace.status.phase === 'Failed' &&
      codespace.status.conditions.some((c) => c.type === 'Ready' && c.reason === 'CrashLoop');
    const slots = live.reduce((sum, n) => sum + n.slots, 0);
    const used = live.reduce(
      (sum, n) => sum + [...n.containers.values()].filter((c) => c.state !== 'exited').length,
      0,
    );
    const waitingForRoom =
      codespace.status.phase === 'Pending' &&
      codespace.status.conditions.some(
        (c) => c.type === 'Scheduled' && c.reason === 'InsufficientCapacity',
      ) &&
      used >= slots;
    if (codespace.spec.running && !crashLooped && !waitingForRoom) {
      const node = codespace.status.nodeName;
      if (codespace.status.phase !== 'Running')
        return `${name} is ${codespace.status.phase} (${JSON.stringify(codespace.status.conditions)})`;
      if (where.length !== 1 || where[0] !== node)
        return `${name} is Running on ${node} but runs on [${where.join(', ')}]`;
      if (node === undefined || fleet.nodes.get(node)?.containers.get(uid)?.state !== 'running')
        return `${name} is not running on ${node}`;
    } else {
      if (!codespace.spec.running && codespace.status.phase !== 'Stopped')
        return `${name} is ${codespace.status.phase}, wanted Stopped`;
      if (where.length > 0) return `${name} should not run but runs on [${where.join(', ')}]`;
    }
  }
  const known = new Set(items.map((c) => c.metadata.uid));
  for (const node of live) {
    for (const container of node.containers.values()) {
      if (!known.has(container.uid))
        return `node ${node.name} still holds ${container.uid}, which was deleted`;
    }
  }
  return undefined;
}
