import { isDeepStrictEqual } from 'node:util';
import type { Codespace, CodespaceSpec } from '../model/codespace.js';
import { CodeyardError } from '../model/errors.js';

/** What a user may change on an existing codespace: the spec and the labels. */
export interface UserChange {
  spec: CodespaceSpec;
  labels: Record<string, string>;
  /** Asking a Failed codespace to run is a retry: a new generation, so the reconciler tries again. */
  retry?: boolean;
}

/**
 * The next object after a user change. Status and server-owned metadata are carried over
 * from `current`; `generation` is bumped only when the spec really changed, so the
 * reconciler's `observedGeneration` tells whether it has acted on the latest wish.
 */
export function applyUserChange(current: Readonly<Codespace>, change: UserChange): Codespace {
  if (current.metadata.deletionTimestamp !== undefined) {
    throw new CodeyardError('CONFLICT', `codespace "${current.metadata.name}" is being deleted`);
  }
  const specChanged = !isDeepStrictEqual(current.spec, change.spec) || change.retry === true;
  return {
    ...current,
    metadata: {
      ...current.metadata,
      labels: { ...change.labels },
      generation: current.metadata.generation + (specChanged ? 1 : 0),
    },
    spec: structuredClone(change.spec),
    status: structuredClone(current.status),
  };
}

/** The body of a PUT, after schema validation. */
export interface ReplaceBody {
  metadata: {
    name: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    owner?: string;
    uid?: string;
  };
  spec: CodespaceSpec;
}

/** PUT: replaces spec and labels. Identity fields that disagree with the stored object are refused. */
export function replaceChange(current: Readonly<Codespace>, body: ReplaceBody): UserChange {
  if (body.metadata.name !== current.metadata.name) {
    throw new CodeyardError('VALIDATION_FAILED', 'metadata.name must match the name in the path', {
      field: 'metadata.name',
    });
  }
  for (const field of ['owner', 'uid'] as const) {
    const given = body.metadata[field];
    if (given !== undefined && given !== current.metadata[field]) {
      throw new CodeyardError(
        'VALIDATION_FAILED',
        `metadata.${field} is set by the server and cannot change`,
        {
          field: `metadata.${field}`,
        },
      );
    }
  }
  return { spec: body.spec, labels: body.metadata.labels ?? {} };
}

/** The body of a PATCH (JSON merge patch), after schema validation. */
export interface MergePatchBody {
  metadata?: { resourceVersion?: string; labels?: Record<string, string | null> };
  spec?: { running?: boolean; idleTimeoutSeconds?: number };
}

/** PATCH: merges the few patchable fields into the current spec and labels; a null label is removed. */
export function mergePatchChange(current: Readonly<Codespace>, patch: MergePatchBody): UserChange {
  const labels: Record<string, string> = { ...current.metadata.labels };
  for (const [key, value] of Object.entries(patch.metadata?.labels ?? {})) {
    if (value === null) delete labels[key];
    else labels[key] = value;
  }
  const spec: CodespaceSpec = structuredClone(current.spec);
  if (patch.spec?.running !== undefined) spec.running = patch.spec.running;
  if (patch.spec?.idleTimeoutSeconds !== undefined) spec.idleTimeoutSeconds = patch.spec.idleTimeoutSeconds;
  const retry = patch.spec?.running === true && current.status.phase === 'Failed';
  return { spec, labels, retry };
}
