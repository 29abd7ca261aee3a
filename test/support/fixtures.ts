/**
 * Builders for the shared resource types, with defaults that pass the model's schemas and
 * overrides for what a test cares about: `aCodespace({ running: false })`, `aNode({ ready: false })`.
 * Every builder returns a fresh object; uids and names are unique per call unless given.
 */
import type {
  Codespace,
  CodespaceMetadata,
  CodespaceSpec,
  CodespaceStatus,
  Phase,
  Resources,
  StopReason,
} from '../../src/model/codespace.js';
import { apiVersion } from '../../src/model/codespace.js';
import {
  idleTimeoutSecondsDefault,
  maxContainersPerNodeDefault,
  resourceDefaults,
} from '../../src/model/limits.js';
import type { Heartbeat, NodeCapacity, NodeRecord, ObservedContainer } from '../../src/model/node.js';
import type { NodeView } from '../../src/placement/node-view.js';

/** A fixed instant so that fixtures never read the clock. */
export const fixtureEpochMs = Date.UTC(2026, 0, 1, 0, 0, 0);
export const fixtureTimestamp = new Date(fixtureEpochMs).toISOString();

let sequence = 0;
function nextId(): number {
  sequence += 1;
  return sequence;
}

export interface CodespaceOverrides {
  name?: string;
  owner?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
  image?: string;
  running?: boolean;
  resources?: Partial<Resources>;
  idleTimeoutSeconds?: number;
  phase?: Phase;
  nodeName?: string;
  volumeNodeName?: string;
  stopReason?: StopReason;
  restartCount?: number;
  /** Deep overrides, applied last. */
  metadata?: Partial<CodespaceMetadata>;
  spec?: Partial<CodespaceSpec>;
  status?: Partial<CodespaceStatus>;
}

export function aCodespace(overrides: CodespaceOverrides = {}): Codespace {
  const id = nextId();
  const metadata: CodespaceMetadata = {
    name: overrides.name ?? `codespace-${id}`,
    owner: overrides.owner ?? 'alice',
    uid: overrides.uid ?? `uid-${id}`,
    resourceVersion: '1',
    generation: overrides.generation ?? 1,
    creationTimestamp: fixtureTimestamp,
    labels: overrides.labels ?? {},
    ...(overrides.deletionTimestamp !== undefined ? { deletionTimestamp: overrides.deletionTimestamp } : {}),
    ...overrides.metadata,
  };
  const spec: CodespaceSpec = {
    image: overrides.image ?? 'codeyard/workspace:latest',
    running: overrides.running ?? true,
    resources: { ...resourceDefaults, ...overrides.resources },
    idleTimeoutSeconds: overrides.idleTimeoutSeconds ?? idleTimeoutSecondsDefault,
    env: {},
    ...overrides.spec,
  };
  const status: CodespaceStatus = {
    phase: overrides.phase ?? 'Pending',
    conditions: [],
    observedGeneration: 0,
    ...(overrides.nodeName !== undefined ? { nodeName: overrides.nodeName } : {}),
    ...(overrides.volumeNodeName !== undefined ? { volumeNodeName: overrides.volumeNodeName } : {}),
    ...(overrides.stopReason !== undefined ? { stopReason: overrides.stopReason } : {}),
    ...(overrides.restartCount !== undefined ? { restartCount: overrides.restartCount } : {}),
    ...overrides.status,
  };
  return { apiVersion, kind: 'Codespace', metadata, spec, status };
}

export function anObservedContainer(overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  const id = nextId();
  return {
    uid: `uid-${id}`,
    name: `codespace-${id}`,
    owner: 'alice',
    generation: 1,
    epoch: 1,
    state: 'running',
    hostPort: 20_000 + (id % 10_000),
    startedAt: fixtureTimestamp,
    ready: true,
    ...overrides,
  };
}

/** A node with room for the default number of default-sized codespaces. */
export const defaultNodeCapacity: NodeCapacity = {
  slots: maxContainersPerNodeDefault,
  cpu: maxContainersPerNodeDefault * resourceDefaults.cpu,
  memoryMiB: maxContainersPerNodeDefault * resourceDefaults.memoryMiB,
};

export interface NodeOverrides extends Partial<Omit<NodeRecord, 'capacity' | 'allocatable'>> {
  capacity?: Partial<NodeCapacity>;
  /** Defaults to the capacity. */
  allocatable?: Partial<NodeCapacity>;
}

export function aNode(overrides: NodeOverrides = {}): NodeRecord {
  const id = nextId();
  const name = overrides.name ?? `node-${id}`;
  const capacity = { ...defaultNodeCapacity, ...overrides.capacity };
  const allocatable = { ...capacity, ...overrides.allocatable };
  return {
    fleet: 'local',
    agentUrl: `http://127.0.0.1:${30_000 + (id % 10_000)}`,
    proxyUrl: `http://127.0.0.1:${40_000 + (id % 10_000)}`,
    bootId: `boot-${id}`,
    sequence: 1,
    highestEpoch: 1,
    ready: true,
    draining: false,
    unschedulable: false,
    lastHeartbeatReceivedMs: fixtureEpochMs,
    lastHeartbeatTime: fixtureTimestamp,
    conditions: [],
    volumes: [],
    containers: [],
    ...overrides,
    name,
    capacity,
    allocatable,
  };
}

export function aHeartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  const id = nextId();
  return {
    nodeName: `node-${id}`,
    fleet: 'local',
    bootId: `boot-${id}`,
    sequence: 1,
    sentAt: fixtureTimestamp,
    agentUrl: `http://127.0.0.1:${30_000 + (id % 10_000)}`,
    proxyUrl: `http://127.0.0.1:${40_000 + (id % 10_000)}`,
    capacity: { ...defaultNodeCapacity },
    allocatable: { ...defaultNodeCapacity },
    highestEpoch: 1,
    ready: true,
    draining: false,
    volumes: [],
    containers: [],
    ...overrides,
  };
}

export interface NodeViewOverrides extends Partial<Omit<NodeView, 'capacity' | 'used' | 'volumes'>> {
  capacity?: Partial<NodeView['capacity']>;
  used?: Partial<NodeView['used']>;
  volumes?: Iterable<string>;
}

/** Placement's view of a node: ready, schedulable, empty, default capacity unless overridden. */
export function aNodeView(overrides: NodeViewOverrides = {}): NodeView {
  const { capacity, used, volumes, ...rest } = overrides;
  return {
    name: `node-${nextId()}`,
    ready: true,
    unschedulable: false,
    draining: false,
    ...rest,
    capacity: { ...defaultNodeCapacity, ...capacity },
    used: { slots: 0, cpu: 0, memoryMiB: 0, ...used },
    volumes: new Set(volumes ?? []),
  };
}
