import type { Heartbeat, ObservedContainer } from '../../src/model/node.js';

/** Containers per node, as the issue sizes the fleet (2,000 nodes × 20 = 40,000 slots). */
export const slotsPerNode = 20;
export const benchFleet = 'bench';

export function nodeName(index: number): string {
  return `node-${String(index).padStart(5, '0')}`;
}

export function codespaceName(index: number): string {
  return `cs-${String(index).padStart(6, '0')}`;
}

/** A running container as an agent reports it (used to give a beat a realistic size). */
function reportedContainer(node: number, slot: number): ObservedContainer {
  return {
    uid: `00000000-0000-4000-8000-${String(node * slotsPerNode + slot).padStart(12, '0')}`,
    name: `hb-${node}-${slot}`,
    owner: `owner-${slot}`,
    generation: 1,
    epoch: 1,
    state: 'running',
    hostPort: 20_000 + slot,
    startedAt: '2026-01-01T00:00:00.000Z',
    lastActivityAt: '2026-01-01T00:00:00.000Z',
    ready: true,
  };
}

/**
 * A fake node agent's beat: 20 slots, cpu and memory large enough that slots are the only limit,
 * ready, with `containers` running containers reported.
 */
export function fakeHeartbeat(options: {
  index: number;
  sequence: number;
  containers: number;
  /** Report these instead of `containers` made-up ones (the codespaces assigned to the node). */
  reported?: readonly ObservedContainer[];
}): Heartbeat {
  const capacity = { slots: slotsPerNode, cpu: 1024, memoryMiB: 16_000_000 };
  const containers: ObservedContainer[] = [...(options.reported ?? [])];
  for (let slot = 0; options.reported === undefined && slot < options.containers; slot += 1)
    containers.push(reportedContainer(options.index, slot));
  return {
    nodeName: nodeName(options.index),
    fleet: benchFleet,
    bootId: `boot-${options.index}`,
    sequence: options.sequence,
    sentAt: new Date().toISOString(),
    agentUrl: `http://127.0.0.1:1/agents/${options.index}`,
    proxyUrl: `http://127.0.0.1:1/proxies/${options.index}`,
    capacity,
    allocatable: capacity,
    highestEpoch: 0,
    ready: true,
    draining: false,
    volumes: [],
    containers,
  };
}

/** The container a node agent reports for a codespace it runs (ready, at the codespace's generation). */
export function runningContainerOf(
  codespace: { metadata: { uid: string; name: string; owner: string; generation: number } },
  slot: number,
): ObservedContainer {
  return {
    uid: codespace.metadata.uid,
    name: codespace.metadata.name,
    owner: codespace.metadata.owner,
    generation: codespace.metadata.generation,
    epoch: 1,
    state: 'running',
    hostPort: 20_000 + slot,
    startedAt: '2026-01-01T00:00:00.000Z',
    lastActivityAt: '2026-01-01T00:00:00.000Z',
    ready: true,
  };
}
