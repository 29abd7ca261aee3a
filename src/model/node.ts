import { Type, type Static } from '@sinclair/typebox';
import { Condition, StopReason } from './codespace.js';

export const NodeName = Type.String({
  pattern: '^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$',
  minLength: 1,
  maxLength: 63,
});

export const NodeCapacity = Type.Object(
  {
    slots: Type.Integer({ minimum: 0, maximum: 1000 }),
    cpu: Type.Number({ minimum: 0, maximum: 1024 }),
    memoryMiB: Type.Integer({ minimum: 0, maximum: 16_777_216 }),
  },
  { additionalProperties: false },
);
export type NodeCapacity = Static<typeof NodeCapacity>;

export const ContainerState = Type.Union([
  Type.Literal('creating'),
  Type.Literal('running'),
  Type.Literal('stopping'),
  Type.Literal('exited'),
  Type.Literal('removing'),
]);
export type ContainerState = Static<typeof ContainerState>;

/** One container as the node sees it; Docker labels are the source of truth. */
export const ObservedContainer = Type.Object(
  {
    uid: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 40 }),
    owner: Type.String({ minLength: 1, maxLength: 64 }),
    generation: Type.Integer({ minimum: 0 }),
    epoch: Type.Integer({ minimum: 0 }),
    state: ContainerState,
    hostPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    startedAt: Type.Optional(Type.String({ maxLength: 40 })),
    lastActivityAt: Type.Optional(Type.String({ maxLength: 40 })),
    exitCode: Type.Optional(Type.Integer()),
    stopReason: Type.Optional(StopReason),
    /** Whether the container answers HTTP on its port yet. */
    ready: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ObservedContainer = Static<typeof ObservedContainer>;

/** What a node agent posts to `POST /v1/nodes/{name}/heartbeat`. */
export const Heartbeat = Type.Object(
  {
    nodeName: NodeName,
    fleet: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-zA-Z0-9][-a-zA-Z0-9_.]*$' }),
    bootId: Type.String({ minLength: 1, maxLength: 64 }),
    sequence: Type.Integer({ minimum: 0 }),
    sentAt: Type.String({ maxLength: 40 }),
    agentUrl: Type.String({ pattern: '^https?://', maxLength: 512 }),
    proxyUrl: Type.String({ pattern: '^https?://', maxLength: 512 }),
    capacity: NodeCapacity,
    allocatable: NodeCapacity,
    /** Highest leader epoch this node has accepted (lets the orchestrator recover its counters). */
    highestEpoch: Type.Integer({ minimum: 0 }),
    /** Workspace image present and proxy healthy: the node may take codespaces. */
    ready: Type.Boolean(),
    draining: Type.Boolean(),
    /** Volumes (by codespace uid) on this node's disk: placement prefers them. */
    volumes: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 10_000 }),
    containers: Type.Array(ObservedContainer, { maxItems: 1000 }),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof Heartbeat>;

/** A node as the orchestrator records it: the last accepted heartbeat plus its own judgement. */
export const NodeRecord = Type.Object(
  {
    name: NodeName,
    fleet: Type.String(),
    agentUrl: Type.String(),
    proxyUrl: Type.String(),
    capacity: NodeCapacity,
    allocatable: NodeCapacity,
    bootId: Type.String(),
    sequence: Type.Integer(),
    highestEpoch: Type.Integer(),
    ready: Type.Boolean(),
    draining: Type.Boolean(),
    /** Cordoned by an operator or the autoscaler: no new placements. */
    unschedulable: Type.Boolean(),
    /** Orchestrator clock (ms since epoch) when the last beat was accepted: beat age is judged on our own clock. */
    lastHeartbeatReceivedMs: Type.Integer(),
    lastHeartbeatTime: Type.String(),
    conditions: Type.Array(Condition),
    volumes: Type.Array(Type.String()),
    containers: Type.Array(ObservedContainer),
  },
  { additionalProperties: false },
);
export type NodeRecord = Static<typeof NodeRecord>;
