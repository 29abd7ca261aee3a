import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  stopGraceSeconds,
  type ContainerRuntime,
  type RuntimeContainer,
  type WorkloadSpec,
} from './container-runtime.js';
import { codeyardEnvFor, containerFromLabels, labelKeys, labelsFor } from './labels.js';
import { processStartTicks, ProcessStateFiles, type ProcessRecord } from './process-state-file.js';

/** The stand-in workspace the process runtime runs when no command is configured. */
export const workspaceStubServerPath = fileURLToPath(new URL('./workspace-stub-server.mjs', import.meta.url));
const stopPollIntervalMs = 50;

export interface ProcessRuntimeOptions {
  nodeName: string;
  /** Node data dir: state files under `processes/`, per-codespace "volumes" under `volumes/`. */
  dataDir: string;
  /** argv of the workload; it gets PORT, HOST=127.0.0.1, HOME and CODEYARD_WORKSPACE_DIR. Default: the stub server on this node binary. */
  command?: readonly string[];
  /** Environment every workload inherits (e.g. PATH), passed in by config. */
  baseEnv?: Readonly<Record<string, string>>;
}

/**
 * Workspaces as local child processes: the embedded default when no Docker engine is reachable.
 * A process outlives the agent (own process group, detached), and its state file lets a
 * restarted agent adopt it by pid instead of starting a second one.
 */
export class ProcessRuntime implements ContainerRuntime {
  readonly kind = 'process' as const;
  private readonly files: ProcessStateFiles;
  private readonly command: readonly string[];

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.files = new ProcessStateFiles(join(options.dataDir, 'processes'));
    this.command = options.command ?? [process.execPath, workspaceStubServerPath];
  }

  volumePathFor(uid: string): string {
    return join(this.options.dataDir, 'volumes', uid);
  }

  async ensure(workload: WorkloadSpec): Promise<RuntimeContainer> {
    const existing = await this.files.read(workload.uid);
    if (existing && (await this.alive(existing))) {
      const running = await this.toContainer(existing);
      if (running) return running;
    }
    // A stopped workload restarts under the labels it was created with, like a Docker container.
    const labels = existing?.labels ?? labelsFor(workload, this.options.nodeName);
    const hostPort = Number(labels[labelKeys.hostPort]);
    const home = this.volumePathFor(workload.uid);
    const workspaceDir = join(home, 'workspace');
    await mkdir(workspaceDir, { recursive: true });
    await mkdir(join(this.options.dataDir, 'processes'), { recursive: true });
    const log = openSync(this.files.logPathFor(workload.uid), 'w');
    const [file, ...args] = this.command;
    const child = spawn(file!, args, {
      cwd: home,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...this.options.baseEnv,
        ...codeyardEnvFor(workload),
        PORT: String(hostPort),
        HOST: '127.0.0.1',
        HOME: home,
        CODEYARD_WORKSPACE_DIR: workspaceDir,
      },
    });
    closeSync(log);
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    child.unref();
    const record: ProcessRecord = {
      labels,
      pid,
      pidStartTicks: (await processStartTicks(pid)) ?? '',
      startedAt: new Date().toISOString(),
    };
    await this.files.write(workload.uid, record);
    // Best effort: the record may be gone already (removed, or the data dir deleted).
    child.once('exit', (code) => void this.recordExit(workload.uid, pid, code).catch(() => undefined));
    const container = await this.toContainer(record);
    if (!container) throw new Error(`incomplete labels for workload ${workload.uid}`);
    return container;
  }

  private async recordExit(uid: string, pid: number, code: number | null): Promise<void> {
    const record = await this.files.read(uid);
    if (record?.pid !== pid) return;
    await this.files.write(uid, { labels: record.labels, ...(code !== null ? { exitCode: code } : {}) });
  }

  async stop(uid: string): Promise<void> {
    const record = await this.files.read(uid);
    if (!record) return;
    if (record.pid !== undefined && (await this.alive(record))) {
      signalGroup(record.pid, 'SIGTERM');
      const deadline = Date.now() + stopGraceSeconds * 1000;
      while ((await this.alive(record)) && Date.now() < deadline) await sleep(stopPollIntervalMs);
      if (await this.alive(record)) signalGroup(record.pid, 'SIGKILL');
      while (await this.alive(record)) await sleep(stopPollIntervalMs);
    }
    await this.files.write(uid, {
      labels: record.labels,
      ...(record.exitCode !== undefined ? { exitCode: record.exitCode } : {}),
    });
  }

  async removeContainer(uid: string): Promise<void> {
    await this.stop(uid);
    await this.files.delete(uid);
  }

  async remove(uid: string): Promise<void> {
    await this.removeContainer(uid);
    await rm(this.volumePathFor(uid), { recursive: true, force: true });
  }

  async list(): Promise<RuntimeContainer[]> {
    const containers = await Promise.all((await this.files.uids()).map((uid) => this.inspect(uid)));
    return containers.filter((c): c is RuntimeContainer => c !== undefined);
  }

  async inspect(uid: string): Promise<RuntimeContainer | undefined> {
    const record = await this.files.read(uid);
    if (!record || record.labels[labelKeys.node] !== this.options.nodeName) return undefined;
    return this.toContainer(record);
  }

  async listVolumes(): Promise<string[]> {
    try {
      return await readdir(join(this.options.dataDir, 'volumes'));
    } catch {
      return [];
    }
  }

  async imagePresent(_image: string): Promise<boolean> {
    try {
      await access(this.command[0]!);
      return true;
    } catch {
      return false;
    }
  }

  private async alive(record: ProcessRecord): Promise<boolean> {
    if (record.pid === undefined) return false;
    const ticks = await processStartTicks(record.pid);
    return ticks !== undefined && ticks === record.pidStartTicks;
  }

  /** Undefined for a damaged record: such a workload is not ours to count or route to. */
  private async toContainer(record: ProcessRecord): Promise<RuntimeContainer | undefined> {
    const running = await this.alive(record);
    return containerFromLabels(record.labels, {
      state: running ? 'running' : 'exited',
      ...(running && record.startedAt ? { startedAt: record.startedAt } : {}),
      ...(!running && record.exitCode !== undefined ? { exitCode: record.exitCode } : {}),
    });
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group, so a workload's own children stop with it.
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
