import { Type, type Static } from '@sinclair/typebox';
import { CodespaceName, CodespaceSpec, UserId } from './codespace.js';
import { ObservedContainer } from './node.js';

/**
 * The orchestrator → node agent protocol. Every command is idempotent, keyed by codespace
 * uid, and authorised by an agent token (`aud` = node:<name>) that carries the leader's epoch.
 *
 *   PUT    /v1/codespaces/{uid}        EnsureRunningRequest  → AgentContainerView (200)
 *   POST   /v1/codespaces/{uid}/stop   StopRequest           → AgentContainerView (200)
 *   DELETE /v1/codespaces/{uid}        (removes container and volume; 200 even if missing)
 *   GET    /v1/codespaces              → { containers: ObservedContainer[] }
 *   POST   /v1/drain                   → stops taking new codespaces
 *
 * A command whose epoch is lower than the highest the node has seen answers 409 STALE_EPOCH;
 * one whose generation is lower than the container's answers 409 STALE_GENERATION.
 */
export const EnsureRunningRequest = Type.Object(
  {
    name: CodespaceName,
    owner: UserId,
    generation: Type.Integer({ minimum: 1 }),
    spec: CodespaceSpec,
  },
  { additionalProperties: false },
);
export type EnsureRunningRequest = Static<typeof EnsureRunningRequest>;

export const StopRequest = Type.Object(
  {
    generation: Type.Integer({ minimum: 1 }),
    reason: Type.Optional(
      Type.Union([Type.Literal('User'), Type.Literal('NodeTerminating'), Type.Literal('Idle')]),
    ),
  },
  { additionalProperties: false },
);
export type StopRequest = Static<typeof StopRequest>;

/** One codespace the orchestrator wants on a node, as sent back in each heartbeat response. */
export const Assignment = Type.Object(
  {
    uid: Type.String(),
    name: CodespaceName,
    owner: UserId,
    generation: Type.Integer({ minimum: 1 }),
    running: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type Assignment = Static<typeof Assignment>;

/**
 * The answer to a heartbeat. `assignments` (when present) is the full set of codespaces the
 * orchestrator assigns to this node at `epoch`: a node that missed a command still converges,
 * and a node never keeps a container nobody assigned.
 */
export const HeartbeatResponse = Type.Object({
  accepted: Type.Boolean(),
  epoch: Type.Optional(Type.Integer({ minimum: 0 })),
  assignments: Type.Optional(Type.Array(Assignment)),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/** Node proxy → node agent (loopback): activity counters sampled every few seconds. */
export const ActivityReport = Type.Object(
  {
    /** Codespace name → last time a person was active (ISO), from requests and client WebSocket messages. */
    lastActivity: Type.Record(CodespaceName, Type.String({ maxLength: 40 }), { maxProperties: 1000 }),
  },
  { additionalProperties: false },
);
export type ActivityReport = Static<typeof ActivityReport>;

/**
 * The answer to ensure-running, stop and remove: the container as the node sees it after the
 * command, or null when the node has none (stopping or removing a missing one succeeds).
 */
export const AgentContainerView = Type.Object(
  { container: Type.Union([ObservedContainer, Type.Null()]) },
  { additionalProperties: false },
);
export type AgentContainerView = Static<typeof AgentContainerView>;
