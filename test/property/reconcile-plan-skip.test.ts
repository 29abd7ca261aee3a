import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Codespace, Phase } from '../../src/model/codespace.js';
import type { ContainerState, NodeRecord } from '../../src/model/node.js';
import { reconcilerConfigDefaults as config } from '../../src/reconciler/config.js';
import type { JudgedNode, NodeHealth } from '../../src/reconciler/node-health.js';
import { planFingerprint } from '../../src/reconciler/plan-fingerprint.js';
import { planCodespace, type Plan, type PlanInput } from '../../src/reconciler/plan.js';
import { planInputFor } from '../../src/reconciler/snapshot.js';
import { aCodespace, aNode, anObservedContainer, fixtureEpochMs } from '../support/fixtures.js';

// The controller skips a key whose last plan was empty while its fingerprint (everything the plan
// reads but the clock) is unchanged and its requeue instant has not come. These properties hold
// the planner to that: a skipped key would have been planned to nothing again.

const nodeNames = ['n0', 'n1', 'n2'] as const;
const phases: Phase[] = ['Pending', 'Scheduled', 'Starting', 'Running', 'Stopping', 'Stopped', 'Failed'];
const states: ContainerState[] = ['creating', 'running', 'running', 'stopping', 'exited', 'removing'];
const healths: NodeHealth[] = ['Ready', 'Ready', 'Ready', 'NotReady', 'Lost', 'Fenced'];
const startMs = fixtureEpochMs + 1_000_000;

const nodeState = fc.record({
  health: fc.constantFrom(...healths),
  reportedAgoMs: fc.integer({ min: 0, max: 60_000 }),
  container: fc.option(
    fc.record({
      state: fc.constantFrom(...states),
      generation: fc.integer({ min: 1, max: 2 }),
      stopReason: fc.option(fc.constantFrom('User' as const, 'Idle' as const, 'NodeTerminating' as const), {
        nil: undefined,
      }),
      activityAgoMs: fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  volume: fc.boolean(),
  full: fc.boolean(),
  draining: fc.boolean(),
});
type NodeState = typeof nodeState extends fc.Arbitrary<infer T> ? T : never;

const world = fc.record({
  running: fc.boolean(),
  generation: fc.integer({ min: 1, max: 2 }),
  phase: fc.constantFrom(...phases),
  nodeName: fc.option(fc.constantFrom(...nodeNames), { nil: undefined }),
  volumeNodeName: fc.option(fc.constantFrom(...nodeNames), { nil: undefined }),
  restartCount: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
  progressingSinceAgoMs: fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: undefined }),
  visibleSinceAgoMs: fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: undefined }),
  nodes: fc.tuple(nodeState, nodeState, nodeState),
  /** Biases towards the calm case (a copy running ready on the assigned node), where skips happen. */
  calm: fc.boolean(),
});
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

/** What changes between two passes without necessarily changing anything the plan reads. */
const change = fc.record({
  laterMs: fc.integer({ min: 0, max: 700_000 }),
  /** Every node beat again: report times move on, contents stay. */
  beatsAfterMs: fc.option(fc.integer({ min: 1, max: 30_000 }), { nil: undefined }),
  /** One node's state is redrawn (health, contents, capacity). */
  redraw: fc.option(fc.tuple(fc.nat(2), nodeState), { nil: undefined, freq: 2 }),
});

function nodesOf(w: World, nowMs: number, beatsAfterMs: number | undefined): JudgedNode[] {
  return nodeNames.map((name, i) => {
    const drawn = w.nodes[i] as NodeState;
    const n: NodeState =
      w.calm && name === w.nodeName
        ? {
            ...drawn,
            health: 'Ready',
            container: {
              state: 'running',
              generation: w.generation,
              stopReason: undefined,
              activityAgoMs: drawn.container?.activityAgoMs,
            },
          }
        : w.calm
          ? { ...drawn, container: undefined }
          : drawn;
    const reportedMs = beatsAfterMs === undefined ? startMs - n.reportedAgoMs : nowMs - 1;
    const record: NodeRecord = aNode({
      name,
      agentUrl: `http://127.0.0.1:1/agents/${name}`,
      proxyUrl: `http://127.0.0.1:1/proxies/${name}`,
      lastHeartbeatReceivedMs: reportedMs,
      lastHeartbeatTime: new Date(reportedMs).toISOString(),
      capacity: n.full ? { slots: 0 } : {},
      draining: n.draining,
      volumes: n.volume ? ['u1'] : [],
      containers:
        n.container === undefined
          ? []
          : [
              anObservedContainer({
                uid: 'u1',
                name: 'cs-u1',
                state: n.container.state,
                generation: n.container.generation,
                ...(n.container.stopReason === undefined ? {} : { stopReason: n.container.stopReason }),
                ...(n.container.activityAgoMs === undefined
                  ? {}
                  : { lastActivityAt: new Date(startMs - n.container.activityAgoMs).toISOString() }),
                startedAt: new Date(startMs - 3_600_000).toISOString(),
                ready: n.container.state === 'running',
              }),
            ],
    });
    return { name, health: n.health, record };
  });
}

function codespaceOf(w: World): Codespace {
  return aCodespace({
    name: 'cs-u1',
    uid: 'u1',
    running: w.running,
    generation: w.generation,
    phase: w.phase,
    ...(w.nodeName === undefined ? {} : { nodeName: w.nodeName }),
    ...(w.volumeNodeName === undefined ? {} : { volumeNodeName: w.volumeNodeName }),
    ...(w.restartCount === undefined ? {} : { restartCount: w.restartCount }),
    status: {
      observedGeneration: w.generation,
      conditions:
        w.progressingSinceAgoMs === undefined
          ? []
          : [
              {
                type: 'Progressing',
                status: 'True',
                reason: w.phase,
                message: '',
                lastTransitionTime: new Date(startMs - w.progressingSinceAgoMs).toISOString(),
              },
            ],
    },
  });
}

function inputOf(codespace: Codespace, nodes: JudgedNode[], nowMs: number, w: World): PlanInput {
  return planInputFor({
    codespace,
    nodes,
    codespaces: [codespace],
    nowMs,
    config,
    ...(w.visibleSinceAgoMs === undefined ? {} : { visibleSinceMs: startMs - w.visibleSinceAgoMs }),
  });
}

const isEmpty = (plan: Plan, codespace: Codespace): boolean =>
  plan.actions.length === 0 && plan.status === codespace.status;

/** Plans from its own status until it stops changing (what a few passes of the controller do). */
function settled(w: World): Codespace {
  let codespace = codespaceOf(w);
  for (let pass = 0; pass < 4; pass += 1) {
    const plan = planCodespace(inputOf(codespace, nodesOf(w, startMs, undefined), startMs, w));
    if (plan.status === codespace.status) break;
    codespace = { ...codespace, status: plan.status };
  }
  return codespace;
}

describe('skipping unchanged keys', () => {
  it('a key skipped for an unchanged fingerprint before its requeue instant would have been planned to nothing', () => {
    let skippedCases = 0;
    let skippedAcrossBeats = 0;
    fc.assert(
      fc.property(world, change, (w, c) => {
        const codespace = settled(w);
        const first = inputOf(codespace, nodesOf(w, startMs, undefined), startMs, w);
        const firstPlan = planCodespace(first);
        const fingerprint = planFingerprint(first);
        // (Early returns rather than fc.pre: most draws are not skippable, and that is fine.)
        if (fingerprint === undefined || !isEmpty(firstPlan, codespace)) return;
        const laterMs = startMs + c.laterMs;
        if (firstPlan.requeueAfterMs !== undefined && laterMs >= startMs + firstPlan.requeueAfterMs) return;
        const changed: World =
          c.redraw === undefined
            ? w
            : {
                ...w,
                nodes: w.nodes.map((n, i) => (i === c.redraw![0] ? c.redraw![1] : n)) as World['nodes'],
              };
        const second = inputOf(codespace, nodesOf(changed, laterMs, c.beatsAfterMs), laterMs, changed);
        if (planFingerprint(second) !== fingerprint) return;
        skippedCases += 1;
        if (c.beatsAfterMs !== undefined) skippedAcrossBeats += 1;
        const secondPlan = planCodespace(second);
        expect(secondPlan.actions).toEqual([]);
        expect(secondPlan.status).toBe(codespace.status);
      }),
      { numRuns: 6000 },
    );
    // Not vacuous: skips happened, including across fresh heartbeats (report times moved on).
    expect(skippedCases).toBeGreaterThan(50);
    expect(skippedAcrossBeats).toBeGreaterThan(10);
  });

  it('changes the fingerprint when a node the codespace names changes health', () => {
    fc.assert(
      fc.property(world, fc.constantFrom(...healths), (w, health) => {
        const codespace = settled(w);
        const nodes = nodesOf(w, startMs, undefined);
        const named = codespace.status.nodeName ?? codespace.status.volumeNodeName;
        fc.pre(named !== undefined);
        const before = planFingerprint(inputOf(codespace, nodes, startMs, w));
        fc.pre(before !== undefined);
        const index = nodes.findIndex((n) => n.name === named);
        fc.pre(nodes[index]!.health !== health);
        const after = nodes.map((n, i) => (i === index ? { ...n, health } : n));
        expect(planFingerprint(inputOf(codespace, after, startMs, w))).not.toBe(before);
      }),
      { numRuns: 500 },
    );
  });

  it('plans the same with the precomputed set of nodes not Ready as without it', () => {
    fc.assert(
      fc.property(world, (w) => {
        const codespace = codespaceOf(w);
        const nodes = nodesOf(w, startMs, undefined);
        const input = inputOf(codespace, nodes, startMs, w);
        const notReadyNodeNames = new Set(nodes.filter((n) => n.health !== 'Ready').map((n) => n.name));
        expect(planCodespace({ ...input, notReadyNodeNames })).toEqual(planCodespace(input));
      }),
      { numRuns: 1000 },
    );
  });

  it('never fingerprints a deletion or a running codespace without a node (their plans read every node)', () => {
    fc.assert(
      fc.property(world, (w) => {
        const codespace = codespaceOf(w);
        const deleting: Codespace = {
          ...codespace,
          metadata: { ...codespace.metadata, deletionTimestamp: new Date(startMs).toISOString() },
        };
        const nodes = nodesOf(w, startMs, undefined);
        expect(planFingerprint(inputOf(deleting, nodes, startMs, w))).toBeUndefined();
        if (codespace.spec.running && codespace.status.nodeName === undefined) {
          expect(planFingerprint(inputOf(codespace, nodes, startMs, w))).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });
});
