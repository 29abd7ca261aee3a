import type { ContainerState } from '../../model/node.js';
import type { RuntimeContainer, WorkloadSpec } from './container-runtime.js';

/**
 * The labels every codeyard container carries. They are the node's source of truth: the port
 * pool, the local KV and the heartbeat are all rebuilt from them after an agent restart.
 */
export const labelKeys = {
  managed: 'dev.codeyard.managed',
  node: 'dev.codeyard.node',
  uid: 'dev.codeyard.uid',
  name: 'dev.codeyard.name',
  owner: 'dev.codeyard.owner',
  generation: 'dev.codeyard.generation',
  epoch: 'dev.codeyard.epoch',
  hostPort: 'dev.codeyard.host-port',
  specHash: 'dev.codeyard.spec-hash',
  cpu: 'dev.codeyard.cpu',
  memoryMiB: 'dev.codeyard.memory-mib',
  idleTimeoutSeconds: 'dev.codeyard.idle-timeout-seconds',
} as const;

export function labelsFor(workload: WorkloadSpec, nodeName: string): Record<string, string> {
  return {
    [labelKeys.managed]: 'true',
    [labelKeys.node]: nodeName,
    [labelKeys.uid]: workload.uid,
    [labelKeys.name]: workload.name,
    [labelKeys.owner]: workload.owner,
    [labelKeys.generation]: String(workload.generation),
    [labelKeys.epoch]: String(workload.epoch),
    [labelKeys.hostPort]: String(workload.hostPort),
    [labelKeys.specHash]: workload.specHash,
    [labelKeys.cpu]: String(workload.spec.resources.cpu),
    [labelKeys.memoryMiB]: String(workload.spec.resources.memoryMiB),
    [labelKeys.idleTimeoutSeconds]: String(workload.spec.idleTimeoutSeconds),
  };
}

function integerLabel(labels: Readonly<Record<string, string>>, key: string): number | undefined {
  const raw = labels[key];
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * Reads a container back from its labels; undefined when they are incomplete or damaged
 * (such a container is not ours to manage, and is never counted or routed to).
 */
export function containerFromLabels(
  labels: Readonly<Record<string, string>>,
  observed: { state: ContainerState; startedAt?: string; exitCode?: number },
): RuntimeContainer | undefined {
  const uid = labels[labelKeys.uid];
  const name = labels[labelKeys.name];
  const owner = labels[labelKeys.owner];
  const generation = integerLabel(labels, labelKeys.generation);
  const epoch = integerLabel(labels, labelKeys.epoch);
  const hostPort = integerLabel(labels, labelKeys.hostPort);
  if (!uid || !name || !owner || generation === undefined || epoch === undefined || hostPort === undefined) {
    return undefined;
  }
  return {
    uid,
    name,
    owner,
    generation,
    epoch,
    hostPort,
    specHash: labels[labelKeys.specHash] ?? '',
    cpu: Number(labels[labelKeys.cpu] ?? 0) || 0,
    memoryMiB: Number(labels[labelKeys.memoryMiB] ?? 0) || 0,
    ...(integerLabel(labels, labelKeys.idleTimeoutSeconds) !== undefined
      ? { idleTimeoutSeconds: integerLabel(labels, labelKeys.idleTimeoutSeconds)! }
      : {}),
    state: observed.state,
    ...(observed.startedAt !== undefined ? { startedAt: observed.startedAt } : {}),
    ...(observed.exitCode !== undefined ? { exitCode: observed.exitCode } : {}),
  };
}

/** Environment every workspace gets besides its spec's own. */
export function codeyardEnvFor(workload: WorkloadSpec): Record<string, string> {
  return {
    ...workload.spec.env,
    CODEYARD_CODESPACE_NAME: workload.name,
    CODEYARD_CODESPACE_UID: workload.uid,
    CODEYARD_OWNER: workload.owner,
    ...(workload.spec.repository ? { CODEYARD_GIT_REPOSITORY: workload.spec.repository.url } : {}),
    ...(workload.spec.repository?.ref ? { CODEYARD_GIT_REF: workload.spec.repository.ref } : {}),
  };
}
