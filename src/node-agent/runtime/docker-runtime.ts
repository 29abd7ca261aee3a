import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { containerNameFor, volumeNameFor } from '../../model/codespace.js';
import { CodeyardError } from '../../model/errors.js';
import type { ContainerState } from '../../model/node.js';
import {
  stopGraceSeconds,
  workspaceContainerPort,
  type ContainerRuntime,
  type RuntimeContainer,
  type WorkloadSpec,
} from './container-runtime.js';
import { codeyardEnvFor, containerFromLabels, labelKeys, labelsFor } from './labels.js';
import { faultPoint } from '../../fault-points/fault-point.js';

/** Per-container log cap: a chatty workspace cannot fill the node's disk. */
export const containerLogMaxSize = '10m';
export const containerLogMaxFiles = '3';
export const containerPidsLimitDefault = 1024;
const bytesPerMiB = 1024 * 1024;
/** How long to wait for a removal someone else started. */
const removalWaitMs = 30_000;
const removalPollIntervalMs = 100;
const nanoCpusPerCpu = 1_000_000_000;
/** UID:GID of the `coder` user in codeyard images; never root. */
export const workspaceUser = '1000:1000';

export interface DockerRuntimeOptions {
  nodeName: string;
  docker?: Docker;
  pidsLimit?: number;
}

function stateFromDocker(status: string | undefined): ContainerState {
  switch (status) {
    case 'created':
      return 'creating';
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'removing':
      return 'removing';
    default:
      return 'exited';
  }
}

function statusCodeOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

/** Containers as Docker runs them, hardened (see docs/node-agent.md, "Security flags"). */
export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  private readonly docker: Docker;
  private readonly nodeName: string;
  private readonly pidsLimit: number;

  constructor(options: DockerRuntimeOptions) {
    this.docker = options.docker ?? new Docker();
    this.nodeName = options.nodeName;
    this.pidsLimit = options.pidsLimit ?? containerPidsLimitDefault;
  }

  /** Throws when no engine answers: `main.ts` then falls back to the process runtime. */
  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async ensure(workload: WorkloadSpec): Promise<RuntimeContainer> {
    let current = await this.inspect(workload.uid);
    if (!current) {
      await this.ensureVolume(workload.uid);
      await this.create(workload);
      faultPoint('after-container-create');
    }
    current = await this.inspect(workload.uid);
    if (current?.state !== 'running') {
      try {
        await this.docker.getContainer(containerNameFor(workload.uid)).start();
      } catch (error) {
        // 304: already started by a concurrent retry; anything else is a real failure.
        if (statusCodeOf(error) !== 304) throw error;
      }
      current = await this.inspect(workload.uid);
    }
    if (!current)
      throw new CodeyardError('INTERNAL', `container for ${workload.uid} vanished while starting`);
    return current;
  }

  private async create(workload: WorkloadSpec): Promise<void> {
    const portKey = `${workspaceContainerPort}/tcp`;
    const memoryBytes = workload.spec.resources.memoryMiB * bytesPerMiB;
    try {
      await this.docker.createContainer({
        name: containerNameFor(workload.uid),
        Image: workload.spec.image,
        Labels: labelsFor(workload, this.nodeName),
        Env: Object.entries(codeyardEnvFor(workload)).map(([key, value]) => `${key}=${value}`),
        User: workspaceUser,
        ExposedPorts: { [portKey]: {} },
        HostConfig: {
          // Loopback only: users reach a workspace solely through the node proxy.
          PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: String(workload.hostPort) }] },
          Mounts: [{ Type: 'volume', Source: volumeNameFor(workload.uid), Target: '/home/coder' }],
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          Memory: memoryBytes,
          MemorySwap: memoryBytes,
          NanoCpus: Math.round(workload.spec.resources.cpu * nanoCpusPerCpu),
          PidsLimit: this.pidsLimit,
          // The agent decides restarts (and reports crashes); Docker must not resurrect a stopped codespace.
          RestartPolicy: { Name: 'no' },
          Init: true,
          LogConfig: {
            Type: 'json-file',
            Config: { 'max-size': containerLogMaxSize, 'max-file': containerLogMaxFiles },
          },
        },
      });
    } catch (error) {
      const status = statusCodeOf(error);
      // 409: the deterministic name already exists (an earlier attempt got this far): that one is ours.
      if (status === 409) return;
      if (status === 404) {
        throw new CodeyardError(
          'VALIDATION_FAILED',
          `image ${workload.spec.image} is not present on this node`,
          {
            field: 'spec.image',
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  private async ensureVolume(uid: string): Promise<void> {
    await this.docker.createVolume({
      Name: volumeNameFor(uid),
      Labels: { [labelKeys.managed]: 'true', [labelKeys.node]: this.nodeName, [labelKeys.uid]: uid },
    });
  }

  async stop(uid: string): Promise<void> {
    try {
      await this.docker.getContainer(containerNameFor(uid)).stop({ t: stopGraceSeconds });
    } catch (error) {
      // 304 already stopped, 404 missing: both mean "stopped".
      if (statusCodeOf(error) !== 304 && statusCodeOf(error) !== 404) throw error;
    }
  }

  async removeContainer(uid: string): Promise<void> {
    const container = this.docker.getContainer(containerNameFor(uid));
    try {
      await container.remove({ force: true });
    } catch (error) {
      if (statusCodeOf(error) === 404) return;
      // 409: a removal is already in progress (e.g. started by an agent that was killed): wait for it.
      if (statusCodeOf(error) !== 409) throw error;
      const deadline = Date.now() + removalWaitMs;
      while (Date.now() < deadline) {
        if (!(await this.exists(uid))) return;
        await sleep(removalPollIntervalMs);
      }
      throw error;
    }
  }

  private async exists(uid: string): Promise<boolean> {
    try {
      await this.docker.getContainer(containerNameFor(uid)).inspect();
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
  }

  async remove(uid: string): Promise<void> {
    await this.removeContainer(uid);
    try {
      await this.docker.getVolume(volumeNameFor(uid)).remove();
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  async list(): Promise<RuntimeContainer[]> {
    const summaries = await this.docker.listContainers({
      all: true,
      filters: { label: [`${labelKeys.managed}=true`, `${labelKeys.node}=${this.nodeName}`] },
    });
    const containers = await Promise.all(
      summaries.map((summary) => {
        const uid = summary.Labels[labelKeys.uid];
        return uid ? this.inspect(uid) : Promise.resolve(undefined);
      }),
    );
    return containers.filter((c): c is RuntimeContainer => c !== undefined);
  }

  async inspect(uid: string): Promise<RuntimeContainer | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(containerNameFor(uid)).inspect();
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
    const labels = info.Config.Labels ?? {};
    if (labels[labelKeys.managed] !== 'true') return undefined;
    if (labels[labelKeys.node] !== this.nodeName) {
      throw new CodeyardError('CONFLICT', `container ${containerNameFor(uid)} belongs to another node`);
    }
    const state = stateFromDocker(info.State.Status);
    return containerFromLabels(labels, {
      state,
      ...(state === 'running' && info.State.StartedAt ? { startedAt: info.State.StartedAt } : {}),
      ...(state === 'exited' ? { exitCode: info.State.ExitCode } : {}),
    });
  }

  async listVolumes(): Promise<string[]> {
    const result = await this.docker.listVolumes({
      filters: { label: [`${labelKeys.managed}=true`, `${labelKeys.node}=${this.nodeName}`] },
    });
    return (result.Volumes ?? []).map((v) => v.Labels?.[labelKeys.uid]).filter((u): u is string => !!u);
  }

  async imagePresent(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
  }
}
