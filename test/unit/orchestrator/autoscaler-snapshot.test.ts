import { describe, expect, it } from 'vitest';
import type { FleetDescription, FleetInstance } from '../../../src/fleet/fleet-provider.js';
import {
  autoscalerSnapshot,
  emptyAutoscalerMemory,
  isWaitingForCapacity,
} from '../../../src/orchestrator/autoscaler-snapshot.js';
import { aCodespace, aNode, anObservedContainer, fixtureEpochMs } from '../../support/fixtures.js';

const notReadyAfterMs = 15_000;

function fleetOf(instances: FleetInstance[], desiredCapacity = instances.length): FleetDescription {
  return { fleet: 'local', minSize: 1, maxSize: 3, desiredCapacity, instances };
}

function waiting(reason: string) {
  return aCodespace({
    phase: 'Pending',
    status: {
      conditions: [
        {
          type: 'Scheduled',
          status: 'False',
          reason,
          message: reason,
          lastTransitionTime: new Date(0).toISOString(),
        },
      ],
    },
  });
}

describe('what the autoscaler sees', () => {
  it('counts codespaces that placement could not place for lack of capacity as waiting', () => {
    expect(isWaitingForCapacity(waiting('InsufficientCapacity'))).toBe(true);
    expect(isWaitingForCapacity(waiting('NoNodes'))).toBe(true);
    expect(isWaitingForCapacity(aCodespace({ phase: 'Pending', status: { conditions: [] } }))).toBe(true);
    expect(isWaitingForCapacity(aCodespace({ phase: 'Running' }))).toBe(false);
    expect(isWaitingForCapacity(aCodespace({ phase: 'Pending', running: false }))).toBe(false);
  });

  it('counts slots held by the orchestrator’s own placements, not only reported containers', () => {
    const node = aNode({ name: 'local-1', lastHeartbeatReceivedMs: fixtureEpochMs });
    const placedNotReported = aCodespace({ phase: 'Scheduled', nodeName: 'local-1' });
    const snapshot = autoscalerSnapshot({
      fleet: fleetOf([{ nodeName: 'local-1', lifecycle: 'InService' }]),
      nodes: [node],
      codespaces: [placedNotReported],
      memory: emptyAutoscalerMemory(),
      nowMs: fixtureEpochMs + 1_000,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(snapshot.nodes[0]).toMatchObject({ name: 'local-1', ready: true, usedSlots: 1 });
    expect(snapshot.nodes[0]?.emptySinceMs).toBeUndefined();
  });

  it('counts a running container nobody placed there too, so the node is never taken for empty', () => {
    const node = aNode({ name: 'local-1', containers: [anObservedContainer({ state: 'running' })] });
    const snapshot = autoscalerSnapshot({
      fleet: fleetOf([{ nodeName: 'local-1', lifecycle: 'InService' }]),
      nodes: [node],
      codespaces: [],
      memory: emptyAutoscalerMemory(),
      nowMs: fixtureEpochMs,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(snapshot.nodes[0]?.usedSlots).toBe(1);
  });

  it('remembers since when a node has been empty, and forgets it when the node takes work', () => {
    const memory = emptyAutoscalerMemory();
    const fleet = fleetOf([{ nodeName: 'local-1', lifecycle: 'InService' }]);
    const beat = (atMs: number) => aNode({ name: 'local-1', lastHeartbeatReceivedMs: atMs });
    const first = autoscalerSnapshot({
      fleet,
      nodes: [beat(fixtureEpochMs)],
      codespaces: [],
      memory,
      nowMs: fixtureEpochMs,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(first.nodes[0]?.emptySinceMs).toBe(fixtureEpochMs);
    const later = autoscalerSnapshot({
      fleet,
      nodes: [beat(fixtureEpochMs + 60_000)],
      codespaces: [],
      memory,
      nowMs: fixtureEpochMs + 60_000,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(later.nodes[0]?.emptySinceMs).toBe(fixtureEpochMs);
    const busy = autoscalerSnapshot({
      fleet,
      nodes: [beat(fixtureEpochMs + 61_000)],
      codespaces: [aCodespace({ phase: 'Running', nodeName: 'local-1' })],
      memory,
      nowMs: fixtureEpochMs + 61_000,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(busy.nodes[0]?.emptySinceMs).toBeUndefined();
  });

  it('treats a launched node that has not beaten yet as capacity on its way, and a terminating one as leaving', () => {
    const snapshot = autoscalerSnapshot({
      fleet: fleetOf([
        { nodeName: 'local-2', lifecycle: 'Pending' },
        { nodeName: 'local-3', lifecycle: 'Terminating', terminationHookPending: true },
        { nodeName: 'local-4', lifecycle: 'Terminated' },
      ]),
      nodes: [aNode({ name: 'local-3' })],
      codespaces: [waiting('InsufficientCapacity')],
      memory: emptyAutoscalerMemory(),
      nowMs: fixtureEpochMs,
      nodeNotReadyAfterMs: notReadyAfterMs,
    });
    expect(snapshot.nodes.map((n) => n.name)).toEqual(['local-2', 'local-3']);
    expect(snapshot.nodes[0]).toMatchObject({ launching: true, ready: false });
    expect(snapshot.nodes[1]).toMatchObject({ draining: true, ready: false });
    expect(snapshot.waiting).toEqual({ count: 1, slots: 1 });
  });
});
