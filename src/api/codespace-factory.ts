import { apiVersion, type Codespace, type CodespaceCreateRequest } from '../model/codespace.js';
import { idleTimeoutSecondsDefault, resourceDefaults } from '../model/limits.js';

export interface NewCodespaceInputs {
  owner: string;
  uid: string;
  /** ISO timestamp of creation, from the orchestrator's clock. */
  now: string;
  defaultImage: string;
}

/**
 * A new codespace from a create request, every default filled in. The store assigns the
 * resourceVersion; `''` is a placeholder it overwrites.
 */
export function newCodespaceFrom(request: CodespaceCreateRequest, inputs: NewCodespaceInputs): Codespace {
  const spec = request.spec;
  return {
    apiVersion,
    kind: 'Codespace',
    metadata: {
      name: request.metadata.name,
      owner: inputs.owner,
      uid: inputs.uid,
      resourceVersion: '',
      generation: 1,
      creationTimestamp: inputs.now,
      labels: { ...(request.metadata.labels ?? {}) },
    },
    spec: {
      image: spec.image ?? inputs.defaultImage,
      running: spec.running ?? true,
      resources: { ...resourceDefaults, ...(spec.resources ?? {}) },
      idleTimeoutSeconds: spec.idleTimeoutSeconds ?? idleTimeoutSecondsDefault,
      env: { ...(spec.env ?? {}) },
      ...(spec.repository ? { repository: { ...spec.repository } } : {}),
    },
    status: { phase: 'Pending', conditions: [], observedGeneration: 0 },
  };
}
