import { describe, expect, it } from 'vitest';
import { nodeViewsFrom, placementRequestFor } from '../../../src/placement/index.js';
import { aCodespace, aNode, anObservedContainer } from '../../support/fixtures.js';

describe('nodeViewsFrom', () => {
  it('copies readiness, cordon, drain, total capacity and volumes from the node record', () => {
    const node = aNode({
      name: 'n1',
      unschedulable: true,
      draining: true,
      volumes: ['v1'],
      capacity: { slots: 10, cpu: 8, memoryMiB: 16_384 },
    });
    const [view] = nodeViewsFrom([node], []);
    expect(view).toEqual({
      name: 'n1',
      ready: true,
      unschedulable: true,
      draining: true,
      capacity: { slots: 10, cpu: 8, memoryMiB: 16_384 },
      used: { slots: 0, cpu: 0, memoryMiB: 0 },
      volumes: new Set(['v1']),
    });
  });

  it('counts a running container once: capacity is the total, not the free allocatable the agent reports', () => {
    // The agent reports allocatable = capacity minus its running containers; usage is counted here.
    const running = aCodespace({ name: 'a', nodeName: 'n1', phase: 'Running' });
    const node = aNode({
      name: 'n1',
      capacity: { slots: 2, cpu: 2, memoryMiB: 4096 },
      allocatable: { slots: 1, cpu: 1, memoryMiB: 2048 },
      containers: [anObservedContainer({ uid: running.metadata.uid })],
    });
    const [view] = nodeViewsFrom([node], [running]);
    expect(view!.capacity.slots).toBe(2);
    expect(view!.used.slots).toBe(1);
  });

  it('treats a node whose Ready condition is not True as not ready even if its beat said ready', () => {
    const node = aNode({
      conditions: [
        {
          type: 'Ready',
          status: 'Unknown',
          reason: 'HeartbeatMissed',
          message: 'no beat for 20 s',
          lastTransitionTime: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(nodeViewsFrom([node], [])[0]!.ready).toBe(false);
    expect(nodeViewsFrom([aNode({ ready: false })], [])[0]!.ready).toBe(false);
  });

  it('counts codespaces assigned to the node before its heartbeat reports them', () => {
    const node = aNode({ name: 'n1' });
    const codespaces = [
      aCodespace({ phase: 'Scheduled', nodeName: 'n1', resources: { cpu: 2, memoryMiB: 4096 } }),
      aCodespace({ phase: 'Running', nodeName: 'n1', resources: { cpu: 0.5, memoryMiB: 512 } }),
      aCodespace({ phase: 'Running', nodeName: 'other' }),
      aCodespace({ phase: 'Pending' }),
    ];
    expect(nodeViewsFrom([node], codespaces)[0]!.used).toEqual({ slots: 2, cpu: 2.5, memoryMiB: 4608 });
  });

  it('does not count stopped or failed codespaces unless their container is still there', () => {
    const stopped = aCodespace({ phase: 'Stopped', nodeName: 'n1' });
    const failed = aCodespace({ phase: 'Failed', nodeName: 'n1', resources: { cpu: 3, memoryMiB: 3000 } });
    const node = aNode({
      name: 'n1',
      containers: [
        anObservedContainer({ uid: stopped.metadata.uid, state: 'exited' }),
        anObservedContainer({ uid: failed.metadata.uid, state: 'running' }),
      ],
    });
    expect(nodeViewsFrom([node], [stopped, failed])[0]!.used).toEqual({ slots: 1, cpu: 3, memoryMiB: 3000 });
  });

  it('counts a reported container nobody assigns here, at its codespace size or the default size', () => {
    const moved = aCodespace({ phase: 'Running', nodeName: 'n2', resources: { cpu: 4, memoryMiB: 8192 } });
    const node = aNode({
      name: 'n1',
      containers: [
        anObservedContainer({ uid: moved.metadata.uid, state: 'stopping' }),
        anObservedContainer({ uid: 'unknown', state: 'running' }),
      ],
    });
    expect(nodeViewsFrom([node], [moved])[0]!.used).toEqual({ slots: 2, cpu: 5, memoryMiB: 10_240 });
  });

  it('counts a codespace once when both assigned and reported', () => {
    const cs = aCodespace({ phase: 'Running', nodeName: 'n1' });
    const node = aNode({ name: 'n1', containers: [anObservedContainer({ uid: cs.metadata.uid })] });
    expect(nodeViewsFrom([node], [cs])[0]!.used.slots).toBe(1);
  });
});

describe('placementRequestFor', () => {
  it('takes the uid, cpu and memory and the volume node from a stored codespace', () => {
    const cs = aCodespace({ uid: 'cs-9', resources: { cpu: 2, memoryMiB: 4096 }, volumeNodeName: 'n3' });
    expect(placementRequestFor(cs)).toEqual({
      uid: 'cs-9',
      resources: { cpu: 2, memoryMiB: 4096 },
      volumeNodeName: 'n3',
    });
  });
});
