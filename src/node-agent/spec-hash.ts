import { createHash } from 'node:crypto';
import type { CodespaceSpec } from '../model/codespace.js';

/**
 * A short digest of what shapes a container (image, resources, env, repository). Stored as a
 * label: a newer generation with the same hash keeps the running container; a different hash
 * recreates it (the volume stays). `running` and `idleTimeoutSeconds` are not part of it.
 */
export function specHashOf(spec: CodespaceSpec): string {
  const env = Object.fromEntries(Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const shape = {
    image: spec.image,
    resources: spec.resources,
    env,
    repository: spec.repository ?? null,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
