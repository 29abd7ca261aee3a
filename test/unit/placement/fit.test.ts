import { describe, expect, it } from 'vitest';
import {
  allocatedFractionAfter,
  holdsVolume,
  misfitOf,
  type PlacementRequest,
} from '../../../src/placement/index.js';
import { aNodeView } from '../../support/fixtures.js';

const request: PlacementRequest = { uid: 'cs-1', resources: { cpu: 1, memoryMiB: 1024 } };

describe('misfitOf', () => {
  it('reports the first failing filter in a fixed order', () => {
    expect(misfitOf(aNodeView({ ready: false, unschedulable: true }), request, { strategy: 'binpack' })).toBe(
      'NotReady',
    );
    expect(
      misfitOf(aNodeView({ unschedulable: true, draining: true }), request, { strategy: 'binpack' }),
    ).toBe('Cordoned');
    expect(
      misfitOf(aNodeView({ draining: true, used: { slots: 20 } }), request, { strategy: 'binpack' }),
    ).toBe('Draining');
    expect(misfitOf(aNodeView({ used: { slots: 20, cpu: 20 } }), request, { strategy: 'binpack' })).toBe(
      'NoFreeSlot',
    );
    expect(
      misfitOf(aNodeView({ used: { cpu: 19.5, memoryMiB: 40_960 } }), request, { strategy: 'binpack' }),
    ).toBe('InsufficientCpu');
    expect(misfitOf(aNodeView({ used: { memoryMiB: 40_000 } }), request, { strategy: 'binpack' })).toBe(
      'InsufficientMemory',
    );
    expect(misfitOf(aNodeView(), request, { strategy: 'binpack' })).toBeUndefined();
  });
});

describe('holdsVolume', () => {
  it('is true for the node named in the request or a node reporting the volume', () => {
    expect(holdsVolume(aNodeView({ name: 'n1' }), { ...request, volumeNodeName: 'n1' })).toBe(true);
    expect(holdsVolume(aNodeView({ volumes: ['cs-1'] }), request)).toBe(true);
    expect(holdsVolume(aNodeView({ volumes: ['cs-2'] }), request)).toBe(false);
  });
});

describe('allocatedFractionAfter', () => {
  it('is the mean of the slot, cpu and memory fractions after the request', () => {
    const node = aNodeView({
      capacity: { slots: 10, cpu: 4, memoryMiB: 4096 },
      used: { slots: 4, cpu: 1, memoryMiB: 1024 },
    });
    // (5/10 + 2/4 + 2048/4096) / 3
    expect(allocatedFractionAfter(node, request, { strategy: 'binpack' })).toBeCloseTo(0.5, 12);
  });

  it('uses the per-node slot cap when it is below the node’s slots', () => {
    const node = aNodeView({ capacity: { slots: 100, cpu: 10, memoryMiB: 10_240 } });
    const score = allocatedFractionAfter(node, request, { strategy: 'binpack', maxContainersPerNode: 10 });
    expect(score).toBeCloseTo((1 / 10 + 1 / 10 + 1024 / 10_240) / 3, 12);
  });
});
