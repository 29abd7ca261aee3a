import { Type } from '@sinclair/typebox';
import { apiVersion, Codespace, CodespaceName, CodespaceSpec, Labels, UserId } from '../model/codespace.js';
import { idleTimeoutSecondsMax, idleTimeoutSecondsMin } from '../model/limits.js';
import { labelKeyPattern, labelValuePattern } from '../model/names.js';
import { NodeName } from '../model/node.js';

/**
 * Route-level schemas: the request shapes the model does not already define. They drive
 * validation, the TypeScript types of handlers and the OpenAPI document.
 */

export const ErrorBodySchema = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
  },
  { description: 'Every error answer' },
);

/** The Codespace schema without its `$id`, so several routes can embed it. */
export const CodespaceBody = Type.Object(Codespace.properties, { additionalProperties: false });

export const CodespaceNameParams = Type.Object({ name: CodespaceName });
export const NodeNameParams = Type.Object({ name: NodeName });

/** Query values stay strings (no type coercion); handlers parse them after these patterns hold. */
export const ResourceVersionString = Type.String({ pattern: '^[0-9]{1,15}$' });

export const ListQuery = Type.Object(
  {
    watch: Type.Optional(
      Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')]),
    ),
    resourceVersion: Type.Optional(ResourceVersionString),
    owner: Type.Optional(UserId),
    labelSelector: Type.Optional(Type.String({ maxLength: 2048 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
    continue: Type.Optional(CodespaceName),
  },
  { additionalProperties: false },
);

export const CodespaceList = Type.Object({
  apiVersion: Type.Literal(apiVersion),
  kind: Type.Literal('CodespaceList'),
  metadata: Type.Object({
    resourceVersion: Type.String(),
    continue: Type.Optional(Type.String()),
  }),
  items: Type.Array(CodespaceBody),
});

/**
 * PUT body: a whole codespace as the client last read it. `spec` and `metadata.labels` are
 * replaced; `metadata.resourceVersion` is the precondition. Server-owned fields may be echoed
 * back but are ignored (`owner` and `uid` must match: they name the object, they cannot move it).
 */
export const CodespaceReplaceRequest = Type.Object(
  {
    apiVersion: Type.Optional(Type.Literal(apiVersion)),
    kind: Type.Optional(Type.Literal('Codespace')),
    metadata: Type.Object(
      {
        name: CodespaceName,
        resourceVersion: ResourceVersionString,
        labels: Type.Optional(Labels),
        owner: Type.Optional(UserId),
        uid: Type.Optional(Type.String({ maxLength: 64 })),
        generation: Type.Optional(Type.Integer({ minimum: 1 })),
        creationTimestamp: Type.Optional(Type.String({ maxLength: 40 })),
        deletionTimestamp: Type.Optional(Type.String({ maxLength: 40 })),
      },
      { additionalProperties: false },
    ),
    spec: CodespaceSpec,
    status: Type.Optional(Type.Unknown({ description: 'ignored: status belongs to the orchestrator' })),
  },
  { additionalProperties: false },
);

/** PATCH body (JSON merge patch, RFC 7396), limited to the fields users flip. A label set to null is removed. */
export const CodespacePatchRequest = Type.Object(
  {
    metadata: Type.Optional(
      Type.Object(
        {
          resourceVersion: Type.Optional(ResourceVersionString),
          labels: Type.Optional(
            Type.Record(
              Type.String({ pattern: labelKeyPattern }),
              Type.Union([Type.String({ pattern: labelValuePattern, maxLength: 63 }), Type.Null()]),
              { maxProperties: 64, additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    spec: Type.Optional(
      Type.Object(
        {
          running: Type.Optional(Type.Boolean()),
          idleTimeoutSeconds: Type.Optional(
            Type.Integer({ minimum: idleTimeoutSecondsMin, maximum: idleTimeoutSecondsMax }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const RemovedMarker = Type.Object({
  kind: Type.Literal('Removed'),
  name: Type.String(),
  uid: Type.String(),
});

export const AccessGrant = Type.Object({
  url: Type.String(),
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});

export const JsonWebKeySet = Type.Object({
  keys: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

/** Error answers every route may give, for the OpenAPI document. */
export const commonErrorResponses = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  413: ErrorBodySchema,
  415: ErrorBodySchema,
  422: ErrorBodySchema,
  429: ErrorBodySchema,
  503: ErrorBodySchema,
};
