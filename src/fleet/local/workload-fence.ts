import type { ContainerRuntime } from '../../node-agent/runtime/container-runtime.js';
import { DockerRuntime } from '../../node-agent/runtime/docker-runtime.js';
import { ProcessRuntime } from '../../node-agent/runtime/process-runtime.js';
import type { LocalNodeSpec } from './node-launcher.js';

/**
 * Fencing a local node's workloads once its processes are gone: a node agent's containers (or
 * workspace processes) outlive the agent, so a dead agent alone does not stop a codespace from
 * serving. Removes the node's containers, keeping their volumes so files survive the move.
 */
export type WorkloadFence = (node: LocalNodeSpec) => Promise<void>;

/**
 * Through the agent's own runtime, so labels, names and process state files are read exactly
 * as the agent writes them. `removeContainer` keeps volumes in both runtimes.
 */
export function runtimeWorkloadFence(runtimeFor: (node: LocalNodeSpec) => ContainerRuntime): WorkloadFence {
  return async (node) => {
    const runtime = runtimeFor(node);
    const containers = await runtime.list();
    for (const container of containers) await runtime.removeContainer(container.uid);
  };
}

/** Containers labelled `dev.codeyard.node=<name>` in the local Docker engine. */
export const dockerWorkloadFence: WorkloadFence = runtimeWorkloadFence(
  (node) => new DockerRuntime({ nodeName: node.name }),
);

/** Workspace processes recorded under `<dataDir>/processes/` (the agent's no-Docker runtime). */
export const processWorkloadFence: WorkloadFence = runtimeWorkloadFence(
  (node) => new ProcessRuntime({ nodeName: node.name, dataDir: node.dataDir }),
);

/** Nodes started without any workload runtime (tests with stub nodes). */
export const noWorkloadFence: WorkloadFence = async () => undefined;
