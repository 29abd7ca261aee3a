import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allocatedFractionAfter,
  holdsVolume,
  misfitOf,
  place,
  placeBatch,
  PlacementIndex,
  withPlacement,
  type NodeView,
  type PlacementOptions,
  type PlacementRequest,
  type PlacementResult,
} from '../../src/placement/index.js';
import { maxContainersPerNodeDefault } from '../../src/model/limits.js';

// Values are built valid by construction (used ≤ capacity, unique names) rather than filtered,
// so that a shrunk counterexample stays small and readable.

const uids = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];

/** Cores in quarters or tenths: tenths exercise the floating-point edge of fractional cpu. */
const cpuArb = (maxCores: number) =>
  fc.oneof(
    fc.integer({ min: 0, max: maxCores * 4 }).map((q) => q / 4),
    fc.integer({ min: 0, max: maxCores * 10 }).map((t) => t / 10),
  );

/** Few distinct shapes, so that ties (and the name tie-break) happen often. */
const capacityArb = fc.record({
  slots: fc.integer({ min: 0, max: 25 }),
  cpu: cpuArb(24),
  memoryMiB: fc.integer({ min: 0, max: 48 }).map((x) => x * 1024),
});

const nodeShapeArb = fc
  .record({
    capacity: capacityArb,
    usedShare: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
    ready: fc.constantFrom(true, true, true, false),
    unschedulable: fc.constantFrom(false, false, false, true),
    draining: fc.constantFrom(false, false, false, true),
    volumes: fc.subarray(uids, { maxLength: 3 }),
  })
  .map(({ capacity, usedShare: [s, c, m], ...rest }) => {
    const cpuMilli = Math.round(capacity.cpu * 1000);
    return {
      ...rest,
      capacity,
      used: {
        slots: s % (capacity.slots + 1),
        cpu: (c % (cpuMilli + 1)) / 1000,
        memoryMiB: m % (capacity.memoryMiB + 1),
      },
    };
  });

/**
 * Nodes drawn from a few shapes, so that equal scores (and so the name tie-break) are common.
 * Unique names; the "n" prefix plus index makes lexical and numeric order differ (n10 < n2).
 */
const nodesArb = fc
  .array(nodeShapeArb, { minLength: 1, maxLength: 4 })
  .chain((shapes) => fc.array(fc.constantFrom(...shapes), { maxLength: 24 }))
  .map((shapes) =>
    shapes.map((shape, i): NodeView => ({ name: `n${i}`, ...shape, volumes: new Set(shape.volumes) })),
  );

const requestArb = (nodeCount: number): fc.Arbitrary<PlacementRequest> =>
  fc.record({
    uid: fc.constantFrom(...uids),
    resources: fc.record({
      cpu: cpuArb(8).map((cpu) => Math.max(cpu, 0.1)),
      memoryMiB: fc.integer({ min: 1, max: 32 }).map((x) => x * 256),
    }),
    volumeNodeName: fc.option(
      fc.integer({ min: 0, max: Math.max(nodeCount, 1) }).map((i) => `n${i}`),
      { nil: undefined },
    ),
  });

const optionsArb: fc.Arbitrary<PlacementOptions> = fc.record(
  {
    strategy: fc.constantFrom('binpack' as const, 'spread' as const),
    maxContainersPerNode: fc.integer({ min: 1, max: 30 }),
  },
  { requiredKeys: ['strategy'] },
);

const scenarioArb = nodesArb.chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    request: requestArb(nodes.length),
    requests: fc.array(requestArb(nodes.length), { maxLength: 30 }),
    options: optionsArb,
    permutationKeys: fc.array(fc.double({ noNaN: true }), {
      minLength: nodes.length,
      maxLength: nodes.length,
    }),
  }),
);

// --- A reference model, written independently of src/placement, to judge its answers. ---

const milli = (cpu: number) => Math.round(cpu * 1000);
const slotLimit = (node: NodeView, options: PlacementOptions) =>
  Math.min(node.capacity.slots, options.maxContainersPerNode ?? maxContainersPerNodeDefault);

function eligible(node: NodeView): boolean {
  return node.ready && !node.unschedulable && !node.draining;
}

function fits(node: NodeView, request: PlacementRequest, options: PlacementOptions): boolean {
  return (
    eligible(node) &&
    node.used.slots + 1 <= slotLimit(node, options) &&
    milli(node.used.cpu) + milli(request.resources.cpu) <= milli(node.capacity.cpu) &&
    node.used.memoryMiB + request.resources.memoryMiB <= node.capacity.memoryMiB
  );
}

function affinity(node: NodeView, request: PlacementRequest): boolean {
  return node.name === request.volumeNodeName || node.volumes.has(request.uid);
}

function fullnessAfter(node: NodeView, request: PlacementRequest, options: PlacementOptions): number {
  const f = (used: number, cap: number) => (cap > 0 ? used / cap : 1);
  return (
    (f(node.used.slots + 1, slotLimit(node, options)) +
      f(milli(node.used.cpu) + milli(request.resources.cpu), milli(node.capacity.cpu)) +
      f(node.used.memoryMiB + request.resources.memoryMiB, node.capacity.memoryMiB)) /
    3
  );
}

function placedNode(result: PlacementResult, nodes: readonly NodeView[]): NodeView | undefined {
  return result.kind === 'placed' ? nodes.find((n) => n.name === result.nodeName) : undefined;
}

function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, key: keys[i] ?? 0, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map(({ item }) => item);
}

const emptyFleetRequest: PlacementRequest = {
  uid: 'u0',
  resources: { cpu: 0.1, memoryMiB: 256 },
  volumeNodeName: undefined,
};

describe('placement properties', () => {
  it('never places beyond a node’s slots, cpu or memory', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, requests, options }) => {
        const batch = placeBatch(requests, nodes, options);
        batch.nodes.forEach((after, i) => {
          const before = nodes[i]!;
          if (after === before) return;
          expect(after.used.slots).toBeLessThanOrEqual(slotLimit(after, options));
          expect(milli(after.used.cpu)).toBeLessThanOrEqual(milli(after.capacity.cpu));
          expect(after.used.memoryMiB).toBeLessThanOrEqual(after.capacity.memoryMiB);
        });
        // The sum of what was placed on each node is exactly what its usage grew by.
        for (const [i, after] of batch.nodes.entries()) {
          const mine = requests.filter((_, r) => {
            const result = batch.results[r]!;
            return result.kind === 'placed' && result.nodeName === after.name;
          });
          expect(after.used.slots - nodes[i]!.used.slots).toBe(mine.length);
          expect(after.used.memoryMiB - nodes[i]!.used.memoryMiB).toBe(
            mine.reduce((s, r) => s + r.resources.memoryMiB, 0),
          );
        }
      }),
    );
  });

  it('chooses only a ready, uncordoned, undrained node with room', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options }) => {
        const chosen = placedNode(place(request, nodes, options), nodes);
        if (chosen !== undefined) expect(fits(chosen, request, options)).toBe(true);
      }),
    );
  });

  it('places whenever some node fits, and explains itself only when none does', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options }) => {
        const result = place(request, nodes, options);
        expect(result.kind === 'placed').toBe(nodes.some((n) => fits(n, request, options)));
        if (result.kind === 'unschedulable') {
          const tallied = Object.values(result.tally).reduce((a, b) => a + b, 0);
          expect(tallied).toBe(nodes.length);
          expect(result.message.startsWith(`${result.reason}`)).toBe(true);
          expect(result.reason === 'NoNodes').toBe(nodes.length === 0);
          expect(result.reason === 'InsufficientCapacity').toBe(nodes.some(eligible));
        }
      }),
      // Once failed (seed -674425132): an empty fleet's message did not start with its reason.
      {
        examples: [
          [
            {
              nodes: [],
              request: emptyFleetRequest,
              requests: [],
              options: { strategy: 'binpack' },
              permutationKeys: [],
            },
          ],
        ],
      },
    );
  });

  it('gives the same answer for the same input, whatever the order of nodes', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options, permutationKeys }) => {
        const first = place(request, nodes, options);
        expect(place(request, nodes, options)).toEqual(first);
        expect(place(request, permute(nodes, permutationKeys), options)).toEqual(first);
      }),
    );
  });

  it('honours volume affinity whenever a node holding the volume fits', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options }) => {
        const affinityFits = nodes.some((n) => affinity(n, request) && fits(n, request, options));
        const chosen = placedNode(place(request, nodes, options), nodes);
        if (affinityFits) expect(chosen !== undefined && affinity(chosen, request)).toBe(true);
      }),
    );
  });

  it('ranks by the strategy among feasible nodes of the same affinity, ties by name', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options }) => {
        const chosen = placedNode(place(request, nodes, options), nodes);
        if (chosen === undefined) return;
        const chosenScore = fullnessAfter(chosen, request, options);
        for (const other of nodes) {
          if (other === chosen || !fits(other, request, options)) continue;
          if (affinity(other, request) !== affinity(chosen, request)) continue;
          const score = fullnessAfter(other, request, options);
          if (options.strategy === 'binpack') expect(score).toBeLessThanOrEqual(chosenScore);
          else expect(score).toBeGreaterThanOrEqual(chosenScore);
          if (score === chosenScore) expect(chosen.name < other.name).toBe(true);
        }
      }),
    );
  });

  it('agrees with a naive sort over the exported filter and score functions', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, request, options }) => {
        const sign = options.strategy === 'binpack' ? -1 : 1;
        const ranked = nodes
          .filter((n) => misfitOf(n, request, options) === undefined)
          .map((n) => ({
            n,
            affinity: holdsVolume(n, request),
            score: allocatedFractionAfter(n, request, options),
          }))
          .sort(
            (a, b) =>
              Number(b.affinity) - Number(a.affinity) ||
              sign * (a.score - b.score) ||
              (a.n.name < b.n.name ? -1 : a.n.name > b.n.name ? 1 : 0),
          );
        const expected = ranked[0]?.n.name;
        const result = place(request, nodes, options);
        expect(result.kind === 'placed' ? result.nodeName : undefined).toBe(expected);
      }),
    );
  });

  it('places a batch exactly as one by one with the snapshot updated between', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes, requests, options }) => {
        let snapshot: NodeView[] = nodes.slice();
        const sequential: PlacementResult[] = [];
        for (const request of requests) {
          const result = place(request, snapshot, options);
          sequential.push(result);
          if (result.kind === 'placed') snapshot = withPlacement(snapshot, request, result.nodeName);
        }
        const batch = placeBatch(requests, nodes, options);
        expect(batch.results).toEqual(sequential);
        expect(batch.nodes).toEqual(snapshot);
      }),
    );
  });
});

/** Marks the named nodes not ready, as the planner does with the nodes it judges silent. */
function judged(nodes: readonly NodeView[], notReady: ReadonlySet<string>): NodeView[] {
  return nodes.map((node) => (node.ready && notReady.has(node.name) ? { ...node, ready: false } : node));
}

/** Edits of an indexed fleet: a node takes a request, leaves, or comes back with another shape. */
const indexEditArb = (nodeCount: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('take' as const), request: requestArb(nodeCount) }),
    fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('reshape' as const), at: fc.nat(), shape: nodeShapeArb }),
  );

describe('placement index properties', () => {
  it('answers exactly as the scan over the same views, with any nodes judged not ready', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.nat({ max: 30 }), { maxLength: 6 }),
        ({ nodes, request, options, permutationKeys }, silent) => {
          const notReady = new Set(silent.map((i) => `n${i}`));
          const index = PlacementIndex.of(permute(nodes, permutationKeys));
          expect(index.place(request, options, notReady)).toEqual(
            place(request, judged(nodes, notReady), options),
          );
        },
      ),
    );
  });

  it('stays equal to the scan while nodes take requests, leave and change shape', () => {
    fc.assert(
      fc.property(
        nodesArb.chain((nodes) =>
          fc.record({
            nodes: fc.constant(nodes),
            edits: fc.array(indexEditArb(nodes.length), { maxLength: 40 }),
            options: optionsArb,
          }),
        ),
        ({ nodes, edits, options }) => {
          let snapshot: NodeView[] = nodes.slice();
          const index = PlacementIndex.of(snapshot);
          let added = nodes.length;
          for (const edit of edits) {
            if (edit.kind === 'take') {
              const result = index.place(edit.request, options);
              expect(result).toEqual(place(edit.request, snapshot, options));
              if (result.kind !== 'placed') continue;
              snapshot = withPlacement(snapshot, edit.request, result.nodeName);
              index.set(snapshot.find((node) => node.name === result.nodeName)!);
            } else if (snapshot.length > 0 && edit.kind === 'remove') {
              const gone = snapshot[edit.at % snapshot.length]!;
              snapshot = snapshot.filter((node) => node !== gone);
              index.delete(gone.name);
            } else if (edit.kind === 'reshape') {
              // Replaces a node's view, or adds a new node when the fleet is empty or `at` is even.
              const replaced =
                snapshot.length > 0 && edit.at % 2 === 1 ? snapshot[edit.at % snapshot.length] : undefined;
              const view: NodeView = {
                ...edit.shape,
                name: replaced?.name ?? `n${added++}`,
                volumes: new Set(edit.shape.volumes),
              };
              snapshot =
                replaced === undefined
                  ? [...snapshot, view]
                  : snapshot.map((n) => (n === replaced ? view : n));
              index.set(view);
            }
            expect(index.size).toBe(snapshot.length);
          }
        },
      ),
    );
  });
});
