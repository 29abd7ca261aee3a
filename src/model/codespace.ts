import { Type, type Static } from '@sinclair/typebox';
import {
  codespaceNameMaxLength,
  envMaxCount,
  envValueMaxLength,
  idleTimeoutSecondsDefault,
  idleTimeoutSecondsMax,
  idleTimeoutSecondsMin,
  imageReferenceMaxLength,
  labelsMaxCount,
  resourceBounds,
} from './limits.js';
import {
  dnsLabelPattern,
  envNamePattern,
  imageReferencePattern,
  labelKeyPattern,
  labelValuePattern,
  userIdPattern,
} from './names.js';

export const apiVersion = 'codeyard.dev/v1';

export const CodespaceName = Type.String({
  pattern: dnsLabelPattern,
  maxLength: codespaceNameMaxLength,
  minLength: 1,
});
export const UserId = Type.String({ pattern: userIdPattern, minLength: 1, maxLength: 64 });
export const ImageReference = Type.String({
  pattern: imageReferencePattern,
  minLength: 1,
  maxLength: imageReferenceMaxLength,
});

export const Labels = Type.Record(
  Type.String({ pattern: labelKeyPattern }),
  Type.String({ pattern: labelValuePattern, maxLength: 63 }),
  {
    maxProperties: labelsMaxCount,
    // A Record's key pattern is only `patternProperties`: without this, any key is accepted.
    additionalProperties: false,
  },
);

export const Resources = Type.Object(
  {
    cpu: Type.Number({ minimum: resourceBounds.cpuMin, maximum: resourceBounds.cpuMax }),
    memoryMiB: Type.Integer({ minimum: resourceBounds.memoryMiBMin, maximum: resourceBounds.memoryMiBMax }),
    diskGiB: Type.Integer({ minimum: resourceBounds.diskGiBMin, maximum: resourceBounds.diskGiBMax }),
  },
  { additionalProperties: false },
);
export type Resources = Static<typeof Resources>;

export const Repository = Type.Object(
  {
    url: Type.String({ pattern: '^(https://|git@)[^\\s]+$', maxLength: 2048 }),
    ref: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._/-]{1,255}$' })),
  },
  { additionalProperties: false },
);

export const CodespaceSpec = Type.Object(
  {
    image: ImageReference,
    running: Type.Boolean(),
    resources: Resources,
    idleTimeoutSeconds: Type.Integer({
      minimum: idleTimeoutSecondsMin,
      maximum: idleTimeoutSecondsMax,
      default: idleTimeoutSecondsDefault,
    }),
    env: Type.Record(
      Type.String({ pattern: envNamePattern }),
      Type.String({ maxLength: envValueMaxLength }),
      {
        maxProperties: envMaxCount,
        additionalProperties: false,
      },
    ),
    repository: Type.Optional(Repository),
  },
  { additionalProperties: false },
);
export type CodespaceSpec = Static<typeof CodespaceSpec>;

export const Phase = Type.Union([
  Type.Literal('Pending'),
  Type.Literal('Scheduled'),
  Type.Literal('Starting'),
  Type.Literal('Running'),
  Type.Literal('Stopping'),
  Type.Literal('Stopped'),
  Type.Literal('Deleting'),
  Type.Literal('Failed'),
]);
export type Phase = Static<typeof Phase>;

export const StopReason = Type.Union([
  Type.Literal('User'),
  Type.Literal('Idle'),
  Type.Literal('NodeLost'),
  Type.Literal('NodeTerminating'),
  Type.Literal('Crashed'),
  Type.Literal('Failed'),
]);
export type StopReason = Static<typeof StopReason>;

export const Condition = Type.Object(
  {
    type: Type.String(),
    status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
    reason: Type.String(),
    message: Type.String(),
    lastTransitionTime: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof Condition>;

export const CodespaceStatus = Type.Object(
  {
    phase: Phase,
    nodeName: Type.Optional(Type.String()),
    url: Type.Optional(Type.String()),
    conditions: Type.Array(Condition),
    observedGeneration: Type.Integer({ minimum: 0 }),
    lastActivityTime: Type.Optional(Type.String({ format: 'date-time' })),
    stopReason: Type.Optional(StopReason),
    /** Nodes that hold this codespace's volume; placement prefers them. */
    volumeNodeName: Type.Optional(Type.String()),
    /** Consecutive failed starts, for crash backoff. */
    restartCount: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type CodespaceStatus = Static<typeof CodespaceStatus>;

export const CodespaceMetadata = Type.Object(
  {
    name: CodespaceName,
    owner: UserId,
    uid: Type.String(),
    resourceVersion: Type.String(),
    generation: Type.Integer({ minimum: 1 }),
    creationTimestamp: Type.String({ format: 'date-time' }),
    deletionTimestamp: Type.Optional(Type.String({ format: 'date-time' })),
    labels: Labels,
  },
  { additionalProperties: false },
);
export type CodespaceMetadata = Static<typeof CodespaceMetadata>;

export const Codespace = Type.Object(
  {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal('Codespace'),
    metadata: CodespaceMetadata,
    spec: CodespaceSpec,
    status: CodespaceStatus,
  },
  { additionalProperties: false, $id: 'Codespace' },
);
export type Codespace = Static<typeof Codespace>;

/** What a user sends to create a codespace: everything but `image` and `name` has a default. */
export const CodespaceCreateRequest = Type.Object(
  {
    metadata: Type.Object(
      { name: CodespaceName, labels: Type.Optional(Labels) },
      { additionalProperties: false },
    ),
    spec: Type.Object(
      {
        image: Type.Optional(ImageReference),
        running: Type.Optional(Type.Boolean()),
        resources: Type.Optional(Type.Partial(Resources, { additionalProperties: false })),
        idleTimeoutSeconds: Type.Optional(
          Type.Integer({ minimum: idleTimeoutSecondsMin, maximum: idleTimeoutSecondsMax }),
        ),
        env: Type.Optional(CodespaceSpec.properties.env),
        repository: Type.Optional(Repository),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type CodespaceCreateRequest = Static<typeof CodespaceCreateRequest>;

/** A codespace's key in the store, in Docker names and in routes. */
export type CodespaceName = string;

/** Deterministic container and volume names: a retried start can never create a second container. */
export function containerNameFor(uid: string): string {
  return `codeyard-${uid}`;
}
export function volumeNameFor(uid: string): string {
  return `codeyard-vol-${uid}`;
}
