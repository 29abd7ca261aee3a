import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideScaling,
  type AutoscalerDecision,
  type AutoscalerNode,
  type AutoscalerOptions,
  type AutoscalerSnapshot,
} from '../../src/fleet/autoscaler-policy.js';

const minuteMs = 60_000;
const slotsPerNode = 4;
const options: AutoscalerOptions = {
  slotsPerNode,
  scaleInCooldownMs: 5 * minuteMs,
  scaleInAfterScaleOutCooldownMs: 5 * minuteMs,
  cordonSettleMs: 15_000,
};
const nowMs = 100 * minuteMs;

// Nodes are built valid by construction (used ≤ capacity, emptySince only when empty, launching
// nodes not ready) so that shrunk counterexamples stay readable.
const nodeArb = (i: number): fc.Arbitrary<AutoscalerNode> =>
  fc
    .record({
      kind: fc.constantFrom('ready', 'ready', 'ready', 'launching', 'notReady'),
      capacitySlots: fc.integer({ min: 1, max: 6 }),
      usedShare: fc.nat(),
      emptyForMs: fc.option(fc.integer({ min: 0, max: 20 * minuteMs }), { nil: undefined }),
      scaleInCordonedForMs: fc.option(fc.integer({ min: 0, max: minuteMs }), { nil: undefined }),
      operatorCordoned: fc.boolean(),
      draining: fc.constantFrom(false, false, false, true),
      launchedAgoMs: fc.integer({ min: 0, max: 60 * minuteMs }),
      volumeCount: fc.constantFrom(0, 0, 1, 4),
    })
    .map((r): AutoscalerNode => {
      const usedSlots =
        r.kind === 'launching' ? 0 : r.emptyForMs !== undefined ? 0 : 1 + (r.usedShare % r.capacitySlots);
      const scaleInCordoned = r.kind === 'ready' && r.scaleInCordonedForMs !== undefined;
      return {
        name: `n${i}`,
        ready: r.kind === 'ready',
        launching: r.kind === 'launching',
        cordoned: scaleInCordoned || r.operatorCordoned,
        cordonedForScaleInAtMs: scaleInCordoned ? nowMs - (r.scaleInCordonedForMs ?? 0) : undefined,
        draining: r.draining,
        usedSlots,
        capacitySlots: r.kind === 'launching' ? 0 : r.capacitySlots,
        emptySinceMs: usedSlots === 0 && r.emptyForMs !== undefined ? nowMs - r.emptyForMs : undefined,
        launchedAtMs: nowMs - r.launchedAgoMs,
        volumeCount: r.volumeCount,
      };
    });

const nodesArb = fc
  .integer({ min: 0, max: 10 })
  .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => nodeArb(i))));

const snapshotArb: fc.Arbitrary<AutoscalerSnapshot> = fc
  .record({
    nodes: nodesArb,
    waitingCount: fc.integer({ min: 0, max: 30 }),
    minSize: fc.integer({ min: 0, max: 5 }),
    span: fc.integer({ min: 0, max: 10 }),
    desiredOffset: fc.integer({ min: -3, max: 3 }),
    lastScaleOutAgoMs: fc.option(fc.integer({ min: 0, max: 20 * minuteMs }), { nil: undefined }),
  })
  .map((r) => {
    const maxSize = r.minSize + r.span;
    return {
      nodes: r.nodes,
      waiting: { count: r.waitingCount, slots: r.waitingCount },
      minSize: r.minSize,
      maxSize,
      desiredCapacity: Math.max(0, r.nodes.length + r.desiredOffset),
      lastScaleOutAtMs: r.lastScaleOutAgoMs === undefined ? undefined : nowMs - r.lastScaleOutAgoMs,
      nowMs,
    };
  });

function launchingSlots(s: AutoscalerSnapshot): number {
  const present = s.nodes.filter((n) => !n.draining);
  const launching = present
    .filter((n) => n.launching && !n.ready)
    .reduce((sum, n) => sum + (n.capacitySlots > 0 ? n.capacitySlots : slotsPerNode), 0);
  return launching + Math.max(0, s.desiredCapacity - present.length) * slotsPerNode;
}

function byName(s: AutoscalerSnapshot): Map<string, AutoscalerNode> {
  return new Map(s.nodes.map((n) => [n.name, n]));
}

describe('autoscaler policy', () => {
  it('keeps desired capacity within [min, max] and never terminates below min', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, options);
        if (d.setDesired !== undefined) {
          expect(d.setDesired).toBeGreaterThanOrEqual(s.minSize);
          expect(d.setDesired).toBeLessThanOrEqual(s.maxSize);
        }
        if (d.terminate.length > 0) {
          expect(d.setDesired).toBeUndefined();
          expect(s.desiredCapacity - d.terminate.length).toBeGreaterThanOrEqual(s.minSize);
        }
      }),
    );
  });

  it('scales out when codespaces wait and nothing launching or reclaimable covers them', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, options);
        const reclaimable = s.nodes
          .filter((n) => n.cordonedForScaleInAtMs !== undefined && n.cordoned && !n.draining)
          .reduce((sum, n) => sum + n.capacitySlots - n.usedSlots, 0);
        const shortfall = s.waiting.slots - launchingSlots(s) - reclaimable;
        const inBounds = s.desiredCapacity >= s.minSize && s.desiredCapacity <= s.maxSize;
        if (inBounds && shortfall > 0 && s.desiredCapacity < s.maxSize) {
          expect(d.setDesired).toBeGreaterThan(s.desiredCapacity);
        }
        if (inBounds && shortfall <= 0) {
          // Capacity on its way is counted: no over-launch.
          expect(d.setDesired).toBeUndefined();
        }
        if (d.setDesired !== undefined && d.setDesired > s.desiredCapacity && inBounds) {
          // Never more nodes than the uncovered slots need.
          expect(d.setDesired - s.desiredCapacity).toBeLessThanOrEqual(Math.ceil(shortfall / slotsPerNode));
        }
      }),
    );
  });

  it('terminates and cordons only nodes empty for the cool-down, and never one holding codespaces', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, options);
        const nodes = byName(s);
        for (const name of [...d.terminate, ...d.cordon]) {
          const node = nodes.get(name);
          expect(node).toBeDefined();
          expect(node?.usedSlots).toBe(0);
          expect(node?.draining).toBe(false);
          expect(node?.emptySinceMs).toBeDefined();
          expect(nowMs - (node?.emptySinceMs ?? nowMs)).toBeGreaterThanOrEqual(
            options.scaleInCooldownMs ?? 0,
          );
        }
        for (const name of d.terminate) {
          // Cordon first: only a node the autoscaler cordoned earlier is terminated.
          expect(nodes.get(name)?.cordonedForScaleInAtMs).toBeDefined();
        }
        for (const name of d.cordon) expect(nodes.get(name)?.cordoned).toBe(false);
      }),
    );
  });

  it('with keepNodesWithVolumes, never cordons or terminates a node holding volumes', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, { ...options, keepNodesWithVolumes: true });
        const nodes = byName(s);
        for (const name of [...d.terminate, ...d.cordon]) expect(nodes.get(name)?.volumeCount ?? 0).toBe(0);
      }),
    );
  });

  it('never scales in while codespaces wait, and takes back the nodes it cordoned', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, options);
        if (s.waiting.count === 0) return;
        expect(d.terminate).toEqual([]);
        expect(d.cordon).toEqual([]);
        const cordonedByUs = s.nodes
          .filter((n) => n.cordoned && n.cordonedForScaleInAtMs !== undefined && !n.draining)
          .map((n) => n.name);
        expect([...d.uncordon].sort()).toEqual([...cordonedByUs].sort());
      }),
    );
  });

  it('holds scale-in for the cool-down after a scale-out', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decideScaling(s, options);
        const recent =
          s.lastScaleOutAtMs !== undefined &&
          nowMs - s.lastScaleOutAtMs < (options.scaleInAfterScaleOutCooldownMs ?? 0);
        if (recent) {
          expect(d.terminate).toEqual([]);
          expect(d.cordon).toEqual([]);
        }
      }),
    );
  });

  it('scales out and back in over a demand spike (the simulation exercises both directions)', () => {
    const stepMs = 30_000;
    const demand = [...Array.from({ length: 20 }, () => 20), ...Array.from({ length: 60 }, () => 0)];
    const result = simulate(demand, { stepMs, launchDelayMs: stepMs, minSize: 1, maxSize: 8 });
    expect(result.scaleOuts).toBeGreaterThan(0);
    expect(result.scaleIns).toBeGreaterThan(0);
    expect(result.minDesired).toBe(1);
  });

  it('does not flap under demand flipping every step: at most one scale-in per cool-down', () => {
    const stepMs = 30_000;
    const demand = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 12 : 0));
    const result = simulate(demand, { stepMs, launchDelayMs: 0, minSize: 1, maxSize: 8 });
    const cooldownMs = options.scaleInAfterScaleOutCooldownMs ?? 0;
    expect(result.directionChanges).toBeLessThanOrEqual(2 * (Math.floor((200 * stepMs) / cooldownMs) + 1));
  });

  it('does not flap: direction changes over an oscillating demand trace are bounded by duration / cool-down', () => {
    const stepMs = 30_000;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 10, maxLength: 200 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 6 }),
        (trace, launchDelaySteps, holdSteps) => {
          const demand = trace.flatMap((d) => Array.from({ length: holdSteps }, () => d));
          const result = simulate(demand, {
            stepMs,
            launchDelayMs: launchDelaySteps * stepMs,
            minSize: 1,
            maxSize: 8,
          });
          const durationMs = demand.length * stepMs;
          const cooldownMs = options.scaleInAfterScaleOutCooldownMs ?? 0;
          expect(result.directionChanges).toBeLessThanOrEqual(2 * (Math.floor(durationMs / cooldownMs) + 1));
          expect(result.maxDesired).toBeLessThanOrEqual(8);
          expect(result.minDesired).toBeGreaterThanOrEqual(1);
          expect(result.terminatedWithCodespaces).toBe(0);
        },
      ),
    );
  });
});

interface SimNode {
  name: string;
  launchedAtMs: number;
  readyAtMs: number;
  used: number;
  emptySinceMs: number | undefined;
  cordonedForScaleInAtMs: number | undefined;
}

/**
 * A small cluster model: demand is the number of codespaces that want to run; placement fills
 * ready uncordoned nodes; launched nodes become ready after a delay. The policy's decision is
 * applied as the reconciler would.
 */
function simulate(
  demand: readonly number[],
  config: { stepMs: number; launchDelayMs: number; minSize: number; maxSize: number },
): {
  directionChanges: number;
  scaleOuts: number;
  scaleIns: number;
  maxDesired: number;
  minDesired: number;
  terminatedWithCodespaces: number;
} {
  let desired = config.minSize;
  let nextId = 0;
  const nodes: SimNode[] = [];
  let lastScaleOutAtMs: number | undefined;
  let lastDirection: 'out' | 'in' | undefined;
  let directionChanges = 0;
  let scaleOuts = 0;
  let scaleIns = 0;
  let maxDesired = desired;
  let minDesired = desired;
  let terminatedWithCodespaces = 0;
  const launch = (t: number) => {
    nextId += 1;
    nodes.push({
      name: `n${nextId}`,
      launchedAtMs: t,
      readyAtMs: t + config.launchDelayMs,
      used: 0,
      emptySinceMs: t,
      cordonedForScaleInAtMs: undefined,
    });
  };
  for (let i = 0; i < desired; i += 1) launch(-config.launchDelayMs);

  demand.forEach((wanted, step) => {
    const t = step * config.stepMs;
    // Codespaces end from the newest nodes first; new ones go to ready, uncordoned nodes.
    let running = nodes.reduce((sum, n) => sum + n.used, 0);
    for (const n of [...nodes].reverse()) {
      while (running > wanted && n.used > 0) {
        n.used -= 1;
        running -= 1;
      }
    }
    for (const n of nodes) {
      const schedulable = n.readyAtMs <= t && n.cordonedForScaleInAtMs === undefined;
      while (schedulable && running < wanted && n.used < slotsPerNode) {
        n.used += 1;
        running += 1;
      }
      if (n.used > 0) n.emptySinceMs = undefined;
      else n.emptySinceMs ??= t;
    }
    const waiting = wanted - running;
    const decision: AutoscalerDecision = decideScaling(
      {
        nodes: nodes.map((n) => ({
          name: n.name,
          ready: n.readyAtMs <= t,
          launching: n.readyAtMs > t,
          cordoned: n.cordonedForScaleInAtMs !== undefined,
          cordonedForScaleInAtMs: n.cordonedForScaleInAtMs,
          draining: false,
          usedSlots: n.used,
          capacitySlots: n.readyAtMs <= t ? slotsPerNode : 0,
          emptySinceMs: n.emptySinceMs,
          launchedAtMs: n.launchedAtMs,
        })),
        waiting: { count: waiting, slots: waiting },
        minSize: config.minSize,
        maxSize: config.maxSize,
        desiredCapacity: desired,
        lastScaleOutAtMs,
        nowMs: t,
      },
      options,
    );
    for (const name of decision.uncordon) {
      const n = nodes.find((x) => x.name === name);
      if (n) n.cordonedForScaleInAtMs = undefined;
    }
    for (const name of decision.cordon) {
      const n = nodes.find((x) => x.name === name);
      if (n) n.cordonedForScaleInAtMs = t;
    }
    let direction: 'out' | 'in' | undefined;
    if (decision.setDesired !== undefined && decision.setDesired > desired) {
      direction = 'out';
      lastScaleOutAtMs = t;
      while (desired < decision.setDesired) {
        desired += 1;
        launch(t);
      }
    }
    for (const name of decision.terminate) {
      const index = nodes.findIndex((x) => x.name === name);
      const node = nodes[index];
      if (node === undefined) continue;
      if (node.used > 0) terminatedWithCodespaces += 1;
      nodes.splice(index, 1);
      desired -= 1;
      direction = 'in';
    }
    if (direction === 'out') scaleOuts += 1;
    if (direction === 'in') scaleIns += 1;
    if (direction !== undefined) {
      if (lastDirection !== undefined && direction !== lastDirection) directionChanges += 1;
      lastDirection = direction;
    }
    maxDesired = Math.max(maxDesired, desired);
    minDesired = Math.min(minDesired, desired);
  });
  return { directionChanges, scaleOuts, scaleIns, maxDesired, minDesired, terminatedWithCodespaces };
}
