import { describe, expect, it } from 'vitest';
import {
  place,
  placeBatch,
  withPlacement,
  type PlacementOptions,
  type PlacementRequest,
} from '../../../src/placement/index.js';
import { aNodeView } from '../../support/fixtures.js';

const binpack: PlacementOptions = { strategy: 'binpack' };
const spread: PlacementOptions = { strategy: 'spread' };

function aRequest(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { uid: 'cs-1', resources: { cpu: 1, memoryMiB: 2048 }, ...overrides };
}

describe('place', () => {
  it('places on the only eligible node', () => {
    const result = place(aRequest(), [aNodeView({ name: 'a' })], binpack);
    expect(result).toEqual({ kind: 'placed', nodeName: 'a' });
  });

  it('binpack prefers the fuller node so that empty nodes can be scaled in', () => {
    const nodes = [
      aNodeView({ name: 'empty' }),
      aNodeView({ name: 'half', used: { slots: 10, cpu: 10, memoryMiB: 20_480 } }),
    ];
    expect(place(aRequest(), nodes, binpack)).toEqual({ kind: 'placed', nodeName: 'half' });
  });

  it('spread prefers the emptier node', () => {
    const nodes = [
      aNodeView({ name: 'half', used: { slots: 10, cpu: 10, memoryMiB: 20_480 } }),
      aNodeView({ name: 'empty' }),
    ];
    expect(place(aRequest(), nodes, spread)).toEqual({ kind: 'placed', nodeName: 'empty' });
  });

  it('prefers the node holding the volume over a fuller one, by status and by the node report', () => {
    const nodes = [
      aNodeView({ name: 'full-ish', used: { slots: 15, cpu: 15, memoryMiB: 30_000 } }),
      aNodeView({ name: 'has-volume' }),
    ];
    expect(place(aRequest({ volumeNodeName: 'has-volume' }), nodes, binpack)).toEqual({
      kind: 'placed',
      nodeName: 'has-volume',
    });
    const reported = [nodes[0]!, aNodeView({ name: 'has-volume', volumes: ['cs-1'] })];
    expect(place(aRequest(), reported, binpack)).toEqual({ kind: 'placed', nodeName: 'has-volume' });
  });

  it('falls back to another node when the volume node cannot take the codespace', () => {
    const nodes = [aNodeView({ name: 'vol', draining: true }), aNodeView({ name: 'other' })];
    expect(place(aRequest({ volumeNodeName: 'vol' }), nodes, binpack)).toEqual({
      kind: 'placed',
      nodeName: 'other',
    });
  });

  it('breaks ties by node name whatever the input order', () => {
    const nodes = [aNodeView({ name: 'c' }), aNodeView({ name: 'a' }), aNodeView({ name: 'b' })];
    expect(place(aRequest(), nodes, binpack)).toEqual({ kind: 'placed', nodeName: 'a' });
    expect(place(aRequest(), nodes.slice().reverse(), spread)).toEqual({ kind: 'placed', nodeName: 'a' });
  });

  it('skips nodes that are not ready, cordoned, draining, without a slot, or short of cpu or memory', () => {
    const nodes = [
      aNodeView({ name: 'a-not-ready', ready: false }),
      aNodeView({ name: 'b-cordoned', unschedulable: true }),
      aNodeView({ name: 'c-draining', draining: true }),
      aNodeView({ name: 'd-full', used: { slots: 20 } }),
      aNodeView({ name: 'e-cpu', used: { cpu: 19.5 } }),
      aNodeView({ name: 'f-memory', used: { memoryMiB: 40_000 } }),
      aNodeView({ name: 'z-fits' }),
    ];
    expect(place(aRequest(), nodes, binpack)).toEqual({ kind: 'placed', nodeName: 'z-fits' });
  });

  it('caps slots at maxContainersPerNode even when the node reports more', () => {
    const node = aNodeView({
      name: 'big',
      capacity: { slots: 100, cpu: 100, memoryMiB: 1_000_000 },
      used: { slots: 20 },
    });
    expect(place(aRequest(), [node], binpack).kind).toBe('unschedulable');
    expect(place(aRequest(), [node], { strategy: 'binpack', maxContainersPerNode: 21 })).toEqual({
      kind: 'placed',
      nodeName: 'big',
    });
  });

  it('accepts a fit that is exact in fractional cpu', () => {
    const node = aNodeView({ name: 'n', capacity: { cpu: 0.3 }, used: { slots: 1, cpu: 0.1 } });
    expect(place(aRequest({ resources: { cpu: 0.2, memoryMiB: 256 } }), [node], binpack)).toEqual({
      kind: 'placed',
      nodeName: 'n',
    });
  });
});

describe('place when nothing fits', () => {
  it('says NoNodes for an empty fleet', () => {
    const result = place(aRequest(), [], binpack);
    expect(result).toMatchObject({ kind: 'unschedulable', reason: 'NoNodes' });
  });

  it('says NoReadyNodes when every node is not ready', () => {
    const result = place(aRequest(), [aNodeView({ ready: false }), aNodeView({ ready: false })], binpack);
    expect(result).toMatchObject({
      kind: 'unschedulable',
      reason: 'NoReadyNodes',
      message: 'NoReadyNodes: 2 not ready (needs 1 slot, 1 cpu, 2048 MiB)',
    });
  });

  it('says NoSchedulableNodes when the ready nodes are cordoned or draining', () => {
    const nodes = [
      aNodeView({ unschedulable: true }),
      aNodeView({ draining: true }),
      aNodeView({ ready: false }),
    ];
    expect(place(aRequest(), nodes, binpack)).toMatchObject({
      reason: 'NoSchedulableNodes',
      message: 'NoSchedulableNodes: 1 not ready, 1 cordoned, 1 draining (needs 1 slot, 1 cpu, 2048 MiB)',
    });
  });

  it('counts full nodes, short resources and unavailable nodes in one readable message', () => {
    const full = { used: { slots: 20 } };
    const nodes = [
      aNodeView(full),
      aNodeView(full),
      aNodeView(full),
      aNodeView({ used: { cpu: 20 } }),
      aNodeView({ used: { memoryMiB: 40_960 } }),
      aNodeView({ ready: false }),
      aNodeView({ draining: true }),
    ];
    const result = place(aRequest(), nodes, binpack);
    expect(result).toEqual({
      kind: 'unschedulable',
      reason: 'InsufficientCapacity',
      message:
        'InsufficientCapacity: 3 nodes full, 1 short of cpu, 1 short of memory, 1 not ready, 1 draining (needs 1 slot, 1 cpu, 2048 MiB)',
      tally: {
        NotReady: 1,
        Cordoned: 0,
        Draining: 1,
        NoFreeSlot: 3,
        InsufficientCpu: 1,
        InsufficientMemory: 1,
      },
    });
  });
});

describe('placeBatch', () => {
  it('sees the capacity earlier placements took', () => {
    const nodes = [
      aNodeView({ name: 'a', capacity: { slots: 1 } }),
      aNodeView({ name: 'b', capacity: { slots: 1 } }),
    ];
    const requests = [aRequest({ uid: '1' }), aRequest({ uid: '2' }), aRequest({ uid: '3' })];
    const batch = placeBatch(requests, nodes, binpack);
    expect(batch.results.map((r) => (r.kind === 'placed' ? r.nodeName : r.reason))).toEqual([
      'a',
      'b',
      'InsufficientCapacity',
    ]);
    expect(batch.nodes.map((n) => n.used.slots)).toEqual([1, 1]);
  });

  it('leaves the input snapshot untouched', () => {
    const nodes = [aNodeView({ name: 'a' })];
    placeBatch([aRequest()], nodes, binpack);
    expect(nodes[0]!.used).toEqual({ slots: 0, cpu: 0, memoryMiB: 0 });
  });

  it('withPlacement adds the request to the chosen node only', () => {
    const nodes = [aNodeView({ name: 'a' }), aNodeView({ name: 'b' })];
    const after = withPlacement(nodes, aRequest({ resources: { cpu: 0.5, memoryMiB: 512 } }), 'b');
    expect(after[0]).toBe(nodes[0]);
    expect(after[1]!.used).toEqual({ slots: 1, cpu: 0.5, memoryMiB: 512 });
  });
});
