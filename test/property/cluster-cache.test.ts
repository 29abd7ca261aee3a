import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Codespace, Phase } from '../../src/model/codespace.js';
import type { ContainerState, NodeRecord } from '../../src/model/node.js';
import { nodeViewsFrom, type NodeView } from '../../src/placement/node-view.js';
import { place } from '../../src/placement/place.js';
import type { PlacementRequest } from '../../src/placement/placement-request.js';
import { assignmentsOn } from '../../src/reconciler/assignments.js';
import { ClusterCache } from '../../src/reconciler/cluster-cache.js';
import { observedFor } from '../../src/reconciler/snapshot.js';
import { aCodespace, aNode, anObservedContainer } from '../support/fixtures.js';

// The reference is the whole-snapshot code the controller used per key before (`nodeViewsFrom`,
// `observedFor`, filters over every codespace), run over a plain model of the same data; the
// incremental cache must answer exactly the same after any sequence of changes.

const codespaceNames = ['c0', 'c1', 'c2', 'c3', 'c4'];
const nodeNames = ['n0', 'n1', 'n2', 'n3'];
/** Includes a node nobody reports, as a codespace may name one the store forgot. */
const assignableNodes = [...nodeNames, 'gone'];
/** Two uids per name (a codespace deleted and created again), plus one nobody has. */
const uidOf = (name: string, variant: number): string => `${name}-u${variant}`;
const reportableUids = [...codespaceNames.flatMap((n) => [uidOf(n, 0), uidOf(n, 1)]), 'stray'];
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

const codespaceArb: fc.Arbitrary<Codespace> = fc
  .record({
    name: fc.constantFrom(...codespaceNames),
    variant: fc.integer({ min: 0, max: 1 }),
    phase: fc.constantFrom(...phases),
    nodeName: fc.option(fc.constantFrom(...assignableNodes), { nil: undefined }),
    volumeNodeName: fc.option(fc.constantFrom(...assignableNodes), { nil: undefined }),
    cpu: fc.integer({ min: 1, max: 40 }).map((t) => t / 10),
    memoryMiB: fc.integer({ min: 1, max: 8 }).map((x) => x * 512),
    running: fc.boolean(),
  })
  .map((c) =>
    aCodespace({
      name: c.name,
      uid: uidOf(c.name, c.variant),
      phase: c.phase,
      running: c.running,
      resources: { cpu: c.cpu, memoryMiB: c.memoryMiB },
      ...(c.nodeName === undefined ? {} : { nodeName: c.nodeName }),
      ...(c.volumeNodeName === undefined ? {} : { volumeNodeName: c.volumeNodeName }),
    }),
  );

const nodeRecordArb = (name: string): fc.Arbitrary<NodeRecord> =>
  fc
    .record({
      containers: fc.uniqueArray(
        fc.record({ uid: fc.constantFrom(...reportableUids), state: fc.constantFrom(...states) }),
        { maxLength: 5, selector: (c) => c.uid },
      ),
      volumes: fc.subarray(reportableUids, { maxLength: 3 }),
      ready: fc.boolean(),
      lastHeartbeatReceivedMs: fc.integer({ min: 0, max: 10_000 }),
    })
    .map((n) =>
      aNode({
        name,
        ready: n.ready,
        volumes: n.volumes,
        lastHeartbeatReceivedMs: n.lastHeartbeatReceivedMs,
        containers: n.containers.map((c) => anObservedContainer({ uid: c.uid, state: c.state })),
      }),
    );

const nodesArb: fc.Arbitrary<NodeRecord[]> = fc
  .subarray(nodeNames)
  .chain((names) => (names.length === 0 ? fc.constant([]) : fc.tuple(...names.map(nodeRecordArb))));

type Operation =
  | { kind: 'set'; codespace: Codespace }
  | { kind: 'delete'; name: string }
  | { kind: 'replace'; codespaces: Codespace[] }
  /** A relist that hands back the cached object for the names in `keep` (their JSON unchanged). */
  | { kind: 'relist'; keep: string[]; codespaces: Codespace[] }
  | { kind: 'setNodes'; records: NodeRecord[] }
  | { kind: 'deleteNode'; name: string };

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: codespaceArb.map((codespace) => ({ kind: 'set' as const, codespace })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...codespaceNames).map((name) => ({ kind: 'delete' as const, name })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(codespaceArb, { maxLength: 5, selector: (c) => c.metadata.name })
      .map((codespaces) => ({ kind: 'replace' as const, codespaces })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        keep: fc.subarray(codespaceNames),
        codespaces: fc.uniqueArray(codespaceArb, { maxLength: 5, selector: (c) => c.metadata.name }),
      })
      .map(({ keep, codespaces }) => ({ kind: 'relist' as const, keep, codespaces })),
  },
  { weight: 2, arbitrary: nodesArb.map((records) => ({ kind: 'setNodes' as const, records })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...nodeNames).map((name) => ({ kind: 'deleteNode' as const, name })),
  },
);

/** The plain model: a map of codespaces and a map of node records, nothing derived. */
interface Model {
  codespaces: Map<string, Codespace>;
  nodes: Map<string, NodeRecord>;
}

function apply(model: Model, cache: ClusterCache, operation: Operation): void {
  switch (operation.kind) {
    case 'set':
      model.codespaces.set(operation.codespace.metadata.name, operation.codespace);
      cache.setCodespace(operation.codespace);
      return;
    case 'delete':
      model.codespaces.delete(operation.name);
      cache.deleteCodespace(operation.name);
      return;
    case 'replace':
      model.codespaces = new Map(operation.codespaces.map((c) => [c.metadata.name, c]));
      cache.replaceCodespaces(model.codespaces);
      return;
    case 'relist': {
      const fresh = new Map(operation.codespaces.map((c) => [c.metadata.name, c]));
      for (const name of operation.keep) {
        const kept = model.codespaces.get(name);
        if (kept !== undefined) fresh.set(name, kept);
      }
      model.codespaces = fresh;
      cache.replaceCodespaces(new Map(fresh));
      return;
    }
    case 'setNodes':
      model.nodes = new Map(operation.records.map((r) => [r.name, r]));
      cache.setNodes(operation.records);
      return;
    case 'deleteNode':
      model.nodes.delete(operation.name);
      cache.deleteNode(operation.name);
      return;
  }
}

/** Requests placed against the cache's index after every step, one with a volume to follow. */
const probeRequests: PlacementRequest[] = [
  { uid: uidOf('c0', 0), resources: { cpu: 1, memoryMiB: 1024 } },
  { uid: uidOf('c1', 1), resources: { cpu: 0.5, memoryMiB: 512 }, volumeNodeName: 'n2' },
];

/** The cache's node views (those its placement index holds), in name order like the reference. */
function viewsInNameOrder(cache: ClusterCache): NodeView[] {
  return cache
    .placementIndex()
    .views()
    .sort((a, b) => a.name.localeCompare(b.name));
}

const byName = (a: Codespace, b: Codespace): number => a.metadata.name.localeCompare(b.metadata.name);

function expectSameAsReference(model: Model, cache: ClusterCache): void {
  const all = [...model.codespaces.values()];
  const records = [...model.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const referenceViews = nodeViewsFrom(records, all);
  // The placement index is kept up to date from the first call on: same views, same answers.
  const index = cache.placementIndex();
  expect(viewsInNameOrder(cache)).toEqual(referenceViews);
  for (const request of probeRequests) {
    for (const strategy of ['binpack', 'spread'] as const) {
      expect(index.place(request, { strategy })).toEqual(place(request, referenceViews, { strategy }));
    }
  }

  const known = new Set(model.nodes.keys());
  for (const c of all) {
    if (c.status.nodeName !== undefined) known.add(c.status.nodeName);
    if (c.status.volumeNodeName !== undefined) known.add(c.status.volumeNodeName);
  }
  expect(cache.knownNodeNames()).toEqual([...known].sort());

  const judged = records.map((record) => ({ name: record.name, health: 'Ready' as const, record }));
  for (const uid of reportableUids) expect(cache.observedFor(uid)).toEqual(observedFor(uid, judged));

  for (const nodeName of assignableNodes) {
    const reported = new Set(model.nodes.get(nodeName)?.containers.map((c) => c.uid) ?? []);
    const on = all.filter(
      (c) =>
        c.status.nodeName === nodeName ||
        c.status.volumeNodeName === nodeName ||
        reported.has(c.metadata.uid),
    );
    expect([...cache.codespacesOn(nodeName)].sort(byName)).toEqual(on.sort(byName));
    const byUidName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
    expect(assignmentsOn(nodeName, cache.codespacesAssignedOrHeldOn(nodeName)).sort(byUidName)).toEqual(
      assignmentsOn(nodeName, all).sort(byUidName),
    );
  }

  expect(new Set(cache.codespaceUids())).toEqual(new Set(all.map((c) => c.metadata.uid)));
  for (const uid of reportableUids) {
    expect(cache.codespaceByUid(uid)).toEqual(all.find((c) => c.metadata.uid === uid));
  }
}

describe('ClusterCache', () => {
  it('answers exactly as the whole-snapshot reference after any sequence of sets, deletes, relists and node polls', () => {
    fc.assert(
      fc.property(fc.array(operationArb, { maxLength: 40 }), (operations) => {
        const model: Model = { codespaces: new Map(), nodes: new Map() };
        const cache = new ClusterCache();
        for (const operation of operations) {
          apply(model, cache, operation);
          expectSameAsReference(model, cache);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('recomputes a node view after its codespace moves away between polls', () => {
    const cache = new ClusterCache();
    cache.setNodes([aNode({ name: 'n0' }), aNode({ name: 'n1' })]);
    const web = aCodespace({ name: 'web', uid: 'u1', phase: 'Scheduled', nodeName: 'n0' });
    cache.setCodespace(web);
    expect(viewsInNameOrder(cache).map((v) => v.used.slots)).toEqual([1, 0]);
    cache.setCodespace({ ...web, status: { ...web.status, nodeName: 'n1' } });
    expect(viewsInNameOrder(cache).map((v) => v.used.slots)).toEqual([0, 1]);
    cache.deleteCodespace('web');
    expect(viewsInNameOrder(cache).map((v) => v.used.slots)).toEqual([0, 0]);
  });
});
