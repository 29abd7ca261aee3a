import { describe, expect, it } from 'vitest';
import {
  decideScaling,
  type AutoscalerNode,
  type AutoscalerSnapshot,
} from '../../../src/fleet/autoscaler-policy.js';

const minuteMs = 60_000;
const nowMs = 1_000 * minuteMs;
const options = { slotsPerNode: 20, scaleInCooldownMs: 5 * minuteMs, cordonSettleMs: 15_000 };

function aNode(overrides: Partial<AutoscalerNode> & { name: string }): AutoscalerNode {
  return {
    ready: true,
    launching: false,
    cordoned: false,
    draining: false,
    usedSlots: 0,
    capacitySlots: 20,
    emptySinceMs: nowMs - 10 * minuteMs,
    launchedAtMs: nowMs - 60 * minuteMs,
    ...overrides,
  };
}

function aSnapshot(overrides: Partial<AutoscalerSnapshot>): AutoscalerSnapshot {
  return {
    nodes: [],
    waiting: { count: 0, slots: 0 },
    minSize: 1,
    maxSize: 10,
    desiredCapacity: 1,
    nowMs,
    ...overrides,
  };
}

describe('decideScaling', () => {
  it('adds one node for 5 waiting codespaces when nothing is launching', () => {
    const d = decideScaling(
      aSnapshot({
        nodes: [aNode({ name: 'a', usedSlots: 20, emptySinceMs: undefined })],
        waiting: { count: 5, slots: 5 },
      }),
      options,
    );
    expect(d.setDesired).toBe(2);
  });

  it('does not launch again while a launching node will cover the waiting codespaces', () => {
    const d = decideScaling(
      aSnapshot({
        nodes: [
          aNode({ name: 'a', usedSlots: 20, emptySinceMs: undefined }),
          aNode({ name: 'b', ready: false, launching: true, capacitySlots: 0 }),
        ],
        desiredCapacity: 2,
        waiting: { count: 5, slots: 5 },
      }),
      options,
    );
    expect(d.setDesired).toBeUndefined();
  });

  it('never asks for more than max', () => {
    const d = decideScaling(
      aSnapshot({ desiredCapacity: 3, maxSize: 4, waiting: { count: 200, slots: 200 } }),
      options,
    );
    expect(d.setDesired).toBe(4);
  });

  it('cordons the most recently launched empty node first, then terminates it on a later pass', () => {
    const nodes = [
      aNode({ name: 'old', launchedAtMs: nowMs - 90 * minuteMs }),
      aNode({ name: 'new', launchedAtMs: nowMs - 30 * minuteMs }),
      aNode({ name: 'busy', usedSlots: 3, emptySinceMs: undefined, launchedAtMs: nowMs - minuteMs }),
    ];
    const first = decideScaling(aSnapshot({ nodes, desiredCapacity: 3 }), options);
    expect(first.cordon).toEqual(['new']);
    expect(first.terminate).toEqual([]);

    const cordoned = nodes.map((n) =>
      n.name === 'new' ? { ...n, cordoned: true, cordonedForScaleInAtMs: nowMs } : n,
    );
    const tooSoon = decideScaling(
      aSnapshot({ nodes: cordoned, desiredCapacity: 3, nowMs: nowMs + 1_000 }),
      options,
    );
    expect(tooSoon.terminate).toEqual([]);
    const later = decideScaling(
      aSnapshot({ nodes: cordoned, desiredCapacity: 3, nowMs: nowMs + 20_000 }),
      options,
    );
    expect(later.terminate).toEqual(['new']);
  });

  it('leaves a node empty for less than the cool-down alone', () => {
    const d = decideScaling(
      aSnapshot({
        nodes: [aNode({ name: 'a' }), aNode({ name: 'b', emptySinceMs: nowMs - minuteMs })],
        desiredCapacity: 2,
      }),
      options,
    );
    expect(d.cordon).toEqual(['a']);
  });

  it('uncordons a node cordoned for scale-in when demand returns before it is terminated', () => {
    const d = decideScaling(
      aSnapshot({
        nodes: [
          aNode({ name: 'a', usedSlots: 20, emptySinceMs: undefined }),
          aNode({ name: 'b', cordoned: true, cordonedForScaleInAtMs: nowMs - 60_000 }),
        ],
        desiredCapacity: 2,
        waiting: { count: 3, slots: 3 },
      }),
      options,
    );
    expect(d.uncordon).toEqual(['b']);
    expect(d.terminate).toEqual([]);
    // Its 20 free slots cover the 3 waiting codespaces: nothing new launches.
    expect(d.setDesired).toBeUndefined();
  });

  it('uncordons a node cordoned for scale-in that received a codespace anyway', () => {
    const d = decideScaling(
      aSnapshot({
        nodes: [
          aNode({
            name: 'b',
            cordoned: true,
            cordonedForScaleInAtMs: nowMs - 60_000,
            usedSlots: 1,
            emptySinceMs: undefined,
          }),
        ],
        desiredCapacity: 2,
      }),
      options,
    );
    expect(d.uncordon).toEqual(['b']);
    expect(d.terminate).toEqual([]);
  });

  it('does not scale in below min', () => {
    const d = decideScaling(
      aSnapshot({ nodes: [aNode({ name: 'a' })], desiredCapacity: 1, minSize: 1 }),
      options,
    );
    expect(d.cordon).toEqual([]);
    expect(d.terminate).toEqual([]);
  });

  it('raises desired to min', () => {
    const d = decideScaling(aSnapshot({ desiredCapacity: 0, minSize: 2 }), options);
    expect(d.setDesired).toBe(2);
  });

  it('keeps a node holding volumes when asked to (files are local to the instance)', () => {
    const nodes = [
      aNode({ name: 'vols', volumeCount: 3 }),
      aNode({ name: 'bare', launchedAtMs: nowMs - 90 * minuteMs }),
    ];
    const keep = decideScaling(aSnapshot({ nodes, desiredCapacity: 3 }), {
      ...options,
      keepNodesWithVolumes: true,
    });
    expect(keep.cordon).toEqual(['bare']);
    const cordoned = [
      aNode({ name: 'vols', volumeCount: 1, cordoned: true, cordonedForScaleInAtMs: nowMs - minuteMs }),
    ];
    const back = decideScaling(aSnapshot({ nodes: cordoned, desiredCapacity: 3 }), {
      ...options,
      keepNodesWithVolumes: true,
    });
    expect(back.terminate).toEqual([]);
    expect(back.uncordon).toEqual(['vols']);
    const byDefault = decideScaling(aSnapshot({ nodes, desiredCapacity: 3 }), options);
    expect(byDefault.cordon).toEqual(['vols']);
  });
});
