import type { Heartbeat, NodeCapacity } from '../model/node.js';
import type { NodeAgent } from './node-agent.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';

export const proxyHealthTimeoutMs = 1_000;

export interface HeartbeatBodyOptions {
  agent: NodeAgent;
  runtime: ContainerRuntime;
  fleet: string;
  bootId: string;
  agentUrl: string;
  proxyUrl: string;
  capacity: NodeCapacity;
  workspaceImage: string;
  /** Probed each beat; without one the proxy is taken as healthy (a node without a proxy, in tests). */
  proxyHealthUrl?: string;
  /** Runs before each beat: brings the KV in step with the runtime (crashes, vanished containers). */
  refresh: () => Promise<void>;
}

async function proxyHealthy(url: string | undefined): Promise<boolean> {
  if (url === undefined) return true;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(proxyHealthTimeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The node's full observed state, as the heartbeat carries it. */
export async function buildHeartbeat(
  options: HeartbeatBodyOptions,
): Promise<Omit<Heartbeat, 'sequence' | 'sentAt'>> {
  await options.refresh().catch(() => undefined);
  const containers = options.agent.observed();
  const live = options.agent.entries().filter((e) => e.state === 'running' || e.state === 'creating');
  const used = {
    slots: live.length,
    cpu: live.reduce((sum, e) => sum + (e.cpu ?? 0), 0),
    memoryMiB: live.reduce((sum, e) => sum + (e.memoryMiB ?? 0), 0),
  };
  const [imagePresent, proxyOk, volumes] = await Promise.all([
    options.runtime.imagePresent(options.workspaceImage).catch(() => false),
    proxyHealthy(options.proxyHealthUrl),
    options.runtime.listVolumes().catch(() => []),
  ]);
  return {
    nodeName: options.agent.nodeName,
    fleet: options.fleet,
    bootId: options.bootId,
    agentUrl: options.agentUrl,
    proxyUrl: options.proxyUrl,
    capacity: options.capacity,
    allocatable: {
      slots: Math.max(0, options.capacity.slots - used.slots),
      cpu: Math.max(0, options.capacity.cpu - used.cpu),
      memoryMiB: Math.max(0, options.capacity.memoryMiB - used.memoryMiB),
    },
    highestEpoch: options.agent.highestEpoch,
    ready: imagePresent && proxyOk,
    draining: options.agent.draining,
    volumes,
    containers,
  };
}
