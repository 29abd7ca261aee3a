import { inFlight } from './seed-fleet.js';
import type { Codespace } from '../../src/model/codespace.js';
import type { ObservedContainer } from '../../src/model/node.js';
import { reconcilerConfigDefaults } from '../../src/reconciler/config.js';
import { planCodespace } from '../../src/reconciler/plan.js';
import { nodeRecordFromHeartbeat } from '../../src/store/node-record.js';
import type { Store } from '../../src/store/store.js';
import { benchCodespace } from '../lib/bench-codespace.js';
import { codespaceName, fakeHeartbeat, runningContainerOf, slotsPerNode } from './fleet-fixtures.js';

/**
 * Writes in flight while seeding: ioredis writes each command as it is issued, so many in flight
 * share socket writes and Redis replies; the bound keeps the pending scripts' memory small.
 */
export const seedWritesInFlight = 256;
/** Codespaces per owner in the seed (the store's per-owner quota is checked on create). */
export const seededCodespacesPerOwner = 100;
/** The sequence of the seeded node records: every beat the benchmark sends afterwards is newer. */
export const seededSequence = 0;

export interface CalmFleet {
  /** What node `index`'s agent reports: its 20 codespaces' containers, running and ready. */
  readonly reportedByNode: readonly (readonly ObservedContainer[])[];
  readonly codespaces: number;
}

/**
 * The status the reconciler settles on for a codespace running on `nodeName`, computed with the
 * reconciler's own pure planner (so the seed cannot drift from what the planner writes): one
 * pass from "placed there" to Running, then a check that a second pass keeps it as it is and
 * wants no action — otherwise the measured orchestrator would be writing, not idling.
 */
function settledStatus(
  codespace: Codespace,
  options: {
    nodeName: string;
    container: ObservedContainer;
    nodeRecord: ReturnType<typeof nodeRecordFromHeartbeat>;
    nowMs: number;
  },
): Codespace['status'] {
  const plan = (current: Codespace) =>
    planCodespace({
      codespace: current,
      observed: [{ nodeName: options.nodeName, container: options.container, observedAtMs: options.nowMs }],
      nodes: new Map([
        [options.nodeName, { name: options.nodeName, health: 'Ready', record: options.nodeRecord }],
      ]),
      nodeViews: [],
      nowMs: options.nowMs,
      config: reconcilerConfigDefaults,
    });
  const placed: Codespace = {
    ...codespace,
    status: { phase: 'Scheduled', nodeName: options.nodeName, conditions: [], observedGeneration: 0 },
  };
  const running = { ...codespace, status: plan(placed).status };
  const again = plan(running);
  if (running.status.phase !== 'Running' || again.status !== running.status || again.actions.length > 0) {
    throw new Error(`the seeded status of ${codespace.metadata.name} is not a settled Running one`);
  }
  return running.status;
}

/**
 * Seeds a calm fleet into `store`, as the orchestrator would hold it once every codespace runs:
 * `nodes` × 20 codespaces, each Running on its node (status from the planner), then every node's
 * record reporting exactly those containers, running and ready. Node records go last so they are
 * fresh when the orchestrator starts. Beats built from `reportedByNode` then change nothing the
 * reconciler acts on, so a heartbeat benchmark measures ingest, not orphan removal.
 */
export async function seedCalmFleet(options: { store: Store; nodes: number }): Promise<CalmFleet> {
  const nowMs = Date.now();
  const reportedByNode: ObservedContainer[][] = [];
  const codespaces: Codespace[] = [];
  const beats = [];
  for (let index = 0; index < options.nodes; index += 1) {
    const created = Array.from({ length: slotsPerNode }, (_, slot) => {
      const number = index * slotsPerNode + slot;
      return benchCodespace({
        name: codespaceName(number),
        owner: `owner-${Math.floor(number / seededCodespacesPerOwner)}`,
      });
    });
    const reported = created.map((codespace, slot) => runningContainerOf(codespace, slot));
    const beat = fakeHeartbeat({ index, sequence: seededSequence, containers: 0, reported });
    const nodeRecord = nodeRecordFromHeartbeat(beat, { receivedAtMs: nowMs, unschedulable: false });
    created.forEach((codespace, slot) => {
      const container = reported[slot] as ObservedContainer;
      codespaces.push({
        ...codespace,
        status: settledStatus(codespace, { nodeName: beat.nodeName, container, nodeRecord, nowMs }),
      });
    });
    reportedByNode.push(reported);
    beats.push(beat);
  }
  await inFlight(codespaces, seedWritesInFlight, (codespace) =>
    options.store.createCodespace(codespace, { maxPerOwner: seededCodespacesPerOwner }),
  );
  await inFlight(beats, seedWritesInFlight, (beat) =>
    options.store.applyHeartbeat(beat, { receivedAtMs: Date.now() }),
  );
  return { reportedByNode, codespaces: codespaces.length };
}
