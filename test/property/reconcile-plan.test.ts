import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodespaceStatus, type Codespace, type Phase } from '../../src/model/codespace.js';
import type { ContainerState, NodeRecord } from '../../src/model/node.js';
import { reconcilerConfigDefaults as config } from '../../src/reconciler/config.js';
import type { JudgedNode, NodeHealth } from '../../src/reconciler/node-health.js';
import { planCodespace, type Plan } from '../../src/reconciler/plan.js';
import { planInputFor } from '../../src/reconciler/snapshot.js';
import { aCodespace, aNode, anObservedContainer, fixtureEpochMs } from '../support/fixtures.js';

// TypeBox checks formats only once they are registered.
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (value) => !Number.isNaN(Date.parse(value)));

const nodeNames = ['n0', 'n1', 'n2'] as const;
const phases: Phase[] = [
  'Pending',
  'Scheduled',
  'Starting',
  'Running',
  'Stopping',
  'Stopped',
  'Deleting',
  'Failed',
];
const states: ContainerState[] = ['creating', 'running', 'stopping', 'exited', 'removing'];

interface Snapshot {
  codespace: Codespace;
  nodes: JudgedNode[];
  nowMs: number;
}

const snapshot: fc.Arbitrary<Snapshot> = fc
  .record({
    running: fc.boolean(),
    deleting: fc.boolean(),
    generation: fc.integer({ min: 1, max: 3 }),
    observedGeneration: fc.integer({ min: 0, max: 3 }),
    phase: fc.constantFrom(...phases),
    nodeName: fc.option(fc.constantFrom(...nodeNames), { nil: undefined }),
    volumeNodeName: fc.option(fc.constantFrom(...nodeNames), { nil: undefined }),
    restartCount: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    progressingSinceAgoMs: fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: undefined }),
    nodes: fc.tuple(
      ...nodeNames.map(() =>
        fc.record({
          health: fc.constantFrom<NodeHealth>('Ready', 'Ready', 'NotReady', 'Lost', 'Fenced'),
          reportedAgoMs: fc.integer({ min: 0, max: 60_000 }),
          container: fc.option(
            fc.record({
              state: fc.constantFrom(...states),
              generation: fc.integer({ min: 1, max: 3 }),
              stopReason: fc.option(
                fc.constantFrom(
                  'User' as const,
                  'Idle' as const,
                  'NodeLost' as const,
                  'NodeTerminating' as const,
                ),
                {
                  nil: undefined,
                },
              ),
            }),
            { nil: undefined },
          ),
          volume: fc.boolean(),
          full: fc.boolean(),
        }),
      ),
    ),
  })
  .map((g) => {
    const nowMs = fixtureEpochMs + 1_000_000;
    const codespace = aCodespace({
      uid: 'u1',
      running: g.running,
      generation: g.generation,
      phase: g.phase,
      ...(g.nodeName === undefined ? {} : { nodeName: g.nodeName }),
      ...(g.volumeNodeName === undefined ? {} : { volumeNodeName: g.volumeNodeName }),
      ...(g.restartCount === undefined ? {} : { restartCount: g.restartCount }),
      ...(g.deleting ? { deletionTimestamp: new Date(nowMs - 1000).toISOString() } : {}),
      status: {
        observedGeneration: Math.min(g.observedGeneration, g.generation),
        conditions:
          g.progressingSinceAgoMs === undefined
            ? []
            : [
                {
                  type: 'Progressing',
                  status: 'True',
                  reason: g.phase,
                  message: '',
                  lastTransitionTime: new Date(nowMs - g.progressingSinceAgoMs).toISOString(),
                },
              ],
      },
    });
    const nodes: JudgedNode[] = nodeNames.map((name, i) => {
      const n = g.nodes[i]!;
      const record: NodeRecord = aNode({
        name,
        lastHeartbeatReceivedMs: nowMs - n.reportedAgoMs,
        capacity: n.full ? { slots: 0 } : {},
        volumes: n.volume ? ['u1'] : [],
        containers:
          n.container === undefined
            ? []
            : [anObservedContainer({ uid: 'u1', ...n.container, ready: n.container.state === 'running' })],
      });
      return { name, health: n.health, record };
    });
    return { codespace, nodes, nowMs };
  });

function planOf(s: Snapshot): Plan {
  return planCodespace(
    planInputFor({
      codespace: s.codespace,
      nodes: s.nodes,
      codespaces: [s.codespace],
      nowMs: s.nowMs,
      config,
    }),
  );
}

const healthOf = (s: Snapshot, name: string) => s.nodes.find((n) => n.name === name)?.health ?? 'NotReady';

describe('planCodespace properties', () => {
  it('always produces a status the model accepts', () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        expect(Value.Check(CodespaceStatus, planOf(s).status)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('commands only reachable nodes, and starts only on the assigned node of a running codespace', () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const plan = planOf(s);
        for (const action of plan.actions) {
          if (action.kind === 'ensureRunning' || action.kind === 'stop' || action.kind === 'remove') {
            expect(healthOf(s, action.nodeName)).toBe('Ready');
          }
          if (action.kind === 'ensureRunning') {
            expect(s.codespace.spec.running).toBe(true);
            expect(s.codespace.metadata.deletionTimestamp).toBeUndefined();
            expect(action.nodeName).toBe(plan.status.nodeName);
          }
          if (action.kind === 'place') expect(healthOf(s, action.nodeName)).toBe('Ready');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never releases a running codespace from a silent node that is not fenced', () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const assigned = s.codespace.status.nodeName;
        fc.pre(
          assigned !== undefined &&
            s.codespace.spec.running &&
            s.codespace.metadata.deletionTimestamp === undefined,
        );
        const health = healthOf(s, assigned as string);
        fc.pre(health === 'NotReady' || health === 'Lost');
        expect(planOf(s).status.nodeName).toBe(assigned);
      }),
      { numRuns: 2000 },
    );
  });

  it('settles: planning again from its own status with the same reports stops changing it', () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        let current = s.codespace;
        const statuses: unknown[] = [];
        for (let pass = 0; pass < 4; pass += 1) {
          const plan = planOf({ ...s, codespace: current });
          if (plan.actions.some((a) => a.kind === 'finalize' || a.kind === 'setRunningFalse')) return;
          statuses.push(plan.status);
          current = { ...current, status: plan.status };
        }
        expect(statuses[3]).toEqual(statuses[2]);
      }),
      { numRuns: 2000 },
    );
  });
});
