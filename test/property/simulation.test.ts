import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimEvent, type SimSchedule } from '../support/sim/sim-cluster.js';

/**
 * Deterministic simulation of the whole reconcile loop (see test/support/sim): two replicas with
 * the real elector, controller, planner, queue and executor over a MemoryStore, simulated nodes
 * with the agent protocol's epoch and generation checks, and faults — node crashes (containers
 * surviving or not), flaky commands, dropped / duplicated / delayed heartbeats, leader pauses
 * long enough to lose the lease, store outages (a blind spell for the orchestrator), container
 * crashes and idle stops, user start / stop / delete.
 *
 * SIM_RUNS sets the number of schedules (scripts/sim-long.sh runs 50,000); SIM_SEED replays one.
 */
const runs = Number(process.env.SIM_RUNS ?? 1_000);
const seed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const options = { faultSec: 90, settleSec: 300 };

const event: fc.Arbitrary<SimEvent> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), running: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip' as const), codespace: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), codespace: fc.nat(20) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('nodeCrash' as const),
      node: fc.nat(5),
      containersSurvive: fc.boolean(),
      downSec: fc.integer({ min: 5, max: 90 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('containerCrash' as const), node: fc.nat(5), pick: fc.nat(20) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('idleStop' as const), node: fc.nat(5), pick: fc.nat(20) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('flaky' as const),
      node: fc.nat(5),
      forSec: fc.integer({ min: 1, max: 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('beats' as const),
      node: fc.nat(5),
      mode: fc.constantFrom('drop' as const, 'duplicate' as const, 'delay' as const),
      forSec: fc.integer({ min: 1, max: 25 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('leaderPause' as const),
      forSec: fc.integer({ min: 1, max: 30 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('storeOutage' as const),
      forSec: fc.integer({ min: 1, max: 60 }),
    }),
  },
);

const schedule: fc.Arbitrary<SimSchedule> = fc.record({
  nodeCount: fc.integer({ min: 2, max: 4 }),
  slotsPerNode: fc.integer({ min: 2, max: 4 }),
  events: fc.array(fc.record({ atSec: fc.integer({ min: 0, max: 60 }), event }), { maxLength: 14 }),
});

/** Schedules that once failed, kept as regression cases. */
const regressions: SimSchedule[] = [
  // An idle stop reported right after a start: the executor edited the planner's frozen status.
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 0, event: { kind: 'create', running: false } },
      { atSec: 0, event: { kind: 'flip', codespace: 0 } },
      { atSec: 5, event: { kind: 'idleStop', node: 0, pick: 0 } },
    ],
  },
  // Stopped right after placement, before the node reported the container: the slot was given
  // away while the container still ran (capacity exceeded).
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 0, event: { kind: 'create', running: false } },
      { atSec: 0, event: { kind: 'create', running: true } },
      { atSec: 0, event: { kind: 'flip', codespace: 0 } },
      { atSec: 0, event: { kind: 'create', running: true } },
      { atSec: 1, event: { kind: 'flip', codespace: 0 } },
    ],
  },
  // A deletion past its deadline never finalized: the report had to be newer than "now".
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 0, event: { kind: 'create', running: true } },
      { atSec: 0, event: { kind: 'nodeCrash', node: 3, containersSurvive: false, downSec: 30 } },
      { atSec: 1, event: { kind: 'delete', codespace: 0 } },
      { atSec: 1, event: { kind: 'nodeCrash', node: 0, containersSurvive: false, downSec: 30 } },
      { atSec: 36, event: { kind: 'nodeCrash', node: 0, containersSurvive: false, downSec: 25 } },
    ],
  },
  // A leader pause ran through a start's deadline: the new leader failed it on its first pass.
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 35, event: { kind: 'nodeCrash', node: 3, containersSurvive: false, downSec: 14 } },
      { atSec: 34, event: { kind: 'create', running: true } },
      { atSec: 49, event: { kind: 'leaderPause', forSec: 14 } },
      { atSec: 5, event: { kind: 'nodeCrash', node: 0, containersSurvive: false, downSec: 26 } },
      { atSec: 28, event: { kind: 'beats', node: 1, mode: 'delay', forSec: 7 } },
    ],
  },
  // A start resent on a lagging (delayed) report raced the node's idle stop; the later stop of
  // the restarted copy overwrote the Idle reason, so running=false looked like a lost user wish.
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 2, event: { kind: 'beats', node: 0, mode: 'delay', forSec: 19 } },
      { atSec: 15, event: { kind: 'idleStop', node: 0, pick: 0 } },
      { atSec: 5, event: { kind: 'create', running: true } },
    ],
  },
  // More codespaces than slots: waiting in Pending for room is the right answer, not a failure.
  {
    nodeCount: 2,
    slotsPerNode: 2,
    events: [
      { atSec: 0, event: { kind: 'create', running: true } },
      { atSec: 1, event: { kind: 'flip', codespace: 15 } },
      { atSec: 1, event: { kind: 'create', running: true } },
      { atSec: 1, event: { kind: 'create', running: true } },
      { atSec: 1, event: { kind: 'create', running: true } },
      { atSec: 0, event: { kind: 'create', running: false } },
    ],
  },
];

describe('simulated cluster', () => {
  it('converges a simple cluster with no faults', async () => {
    const result = await runSimulation(
      {
        nodeCount: 2,
        slotsPerNode: 2,
        events: [
          { atSec: 0, event: { kind: 'create', running: true } },
          { atSec: 0, event: { kind: 'create', running: true } },
          { atSec: 3, event: { kind: 'create', running: false } },
        ],
      },
      options,
    );
    expect(result).toMatchObject({ ok: true });
  });

  it('moves codespaces off a crashed node only after fencing it', async () => {
    const result = await runSimulation(
      {
        nodeCount: 3,
        slotsPerNode: 3,
        events: [
          { atSec: 0, event: { kind: 'create', running: true } },
          { atSec: 0, event: { kind: 'create', running: true } },
          { atSec: 20, event: { kind: 'nodeCrash', node: 0, containersSurvive: true, downSec: 90 } },
          { atSec: 21, event: { kind: 'nodeCrash', node: 0, containersSurvive: true, downSec: 90 } },
        ],
      },
      options,
    );
    expect(result.ok, result.failure).toBe(true);
    expect(result.terminations).toBeGreaterThan(0);
  });

  it.each(regressions.map((s, i) => [i, s] as const))(
    'keeps regression schedule %i safe and convergent',
    async (_i, s) => {
      const result = await runSimulation(s, options);
      expect(result.ok, result.failure).toBe(true);
    },
  );

  it(`keeps every invariant and converges over ${runs} random schedules`, async () => {
    await fc.assert(
      fc.asyncProperty(schedule, async (s) => {
        const result = await runSimulation(s, options);
        if (!result.ok) throw new Error(result.failure);
      }),
      { numRuns: runs, ...(seed === undefined ? {} : { seed }), interruptAfterTimeLimit: 3_600_000 },
    );
  }, 3_600_000);
});
