import type { CodespaceSpec } from '../../model/codespace.js';
import type { ContainerState } from '../../model/node.js';

/**
 * What the agent asks a runtime to run. Everything here is recorded on the container itself
 * (Docker labels, or the process runtime's state file) at creation: after an agent restart the
 * runtime's own listing, not the agent's memory, says what this node runs.
 */
export interface WorkloadSpec {
  readonly uid: string;
  readonly name: string;
  readonly owner: string;
  readonly generation: number;
  readonly epoch: number;
  /** Loopback port the workspace's port 8080 is published on. */
  readonly hostPort: number;
  readonly spec: CodespaceSpec;
  /** Hash of the parts of the spec that shape the container (image, resources, env, repository). */
  readonly specHash: string;
}

/** One container as the runtime reports it, rebuilt from its labels. */
export interface RuntimeContainer {
  readonly uid: string;
  readonly name: string;
  readonly owner: string;
  readonly generation: number;
  readonly epoch: number;
  readonly hostPort: number;
  readonly specHash: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly idleTimeoutSeconds?: number;
  readonly state: ContainerState;
  readonly startedAt?: string;
  readonly exitCode?: number;
}

/**
 * The seam between the agent and whatever runs workspaces: Docker (`DockerRuntime`) or local
 * child processes (`ProcessRuntime`, when no engine is reachable). Both pass the same contract
 * suite (test/integration/runtime-contract.ts). Every method is idempotent and keyed by uid;
 * the agent never calls two methods for one uid at once.
 */
export interface ContainerRuntime {
  readonly kind: 'docker' | 'process';
  /** Creates (if missing) and starts the workload under its deterministic name. Never makes a second one. */
  ensure(workload: WorkloadSpec): Promise<RuntimeContainer>;
  /** Stops the workload, keeping it and its volume. Stopping a stopped or missing one succeeds. */
  stop(uid: string): Promise<void>;
  /** Removes the container only (the volume stays): used to recreate with a new port or spec. */
  removeContainer(uid: string): Promise<void>;
  /** Removes container and volume. Removing a missing one succeeds. */
  remove(uid: string): Promise<void>;
  /** Every workload of this node, from labels (the source of truth). */
  list(): Promise<RuntimeContainer[]>;
  inspect(uid: string): Promise<RuntimeContainer | undefined>;
  /** Uids whose volume exists on this node. */
  listVolumes(): Promise<string[]>;
  /** Whether an image (or, for processes, the command) is present, so the node may report ready. */
  imagePresent(image: string): Promise<boolean>;
}

/** Port the workspace listens on inside a container. */
export const workspaceContainerPort = 8080;
/** Seconds a workload gets to exit after SIGTERM before it is killed. */
export const stopGraceSeconds = 10;
