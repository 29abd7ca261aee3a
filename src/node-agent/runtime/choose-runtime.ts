import Docker from 'dockerode';
import type { Logger } from 'pino';
import type { ContainerRuntime } from './container-runtime.js';
import { DockerRuntime } from './docker-runtime.js';
import { ProcessRuntime } from './process-runtime.js';

export const dockerPingTimeoutMs = 2_000;
/** Any single Docker API call; a start under load takes seconds, never a minute. */
export const dockerCallTimeoutMs = 60_000;

export interface ChooseRuntimeOptions {
  mode: 'auto' | 'docker' | 'process';
  nodeName: string;
  dataDir: string;
  pidsLimit: number;
  processCommand?: string[];
  processBaseEnv: Record<string, string>;
  logger: Logger;
  /** Where to find the engine; default: dockerode's own (DOCKER_HOST or the local socket). */
  dockerOptions?: Docker.DockerOptions;
}

/** Docker when an engine answers (or when asked for explicitly), else local processes. */
export async function chooseRuntime(options: ChooseRuntimeOptions): Promise<ContainerRuntime> {
  const processRuntime = () =>
    new ProcessRuntime({
      nodeName: options.nodeName,
      dataDir: options.dataDir,
      baseEnv: options.processBaseEnv,
      ...(options.processCommand ? { command: options.processCommand } : {}),
    });
  if (options.mode === 'process') return processRuntime();
  const docker = new DockerRuntime({
    nodeName: options.nodeName,
    docker: new Docker({ timeout: dockerCallTimeoutMs, ...options.dockerOptions }),
    pidsLimit: options.pidsLimit,
  });
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('docker ping timed out')), dockerPingTimeoutMs).unref(),
      ),
    ]);
    return docker;
  } catch (error) {
    if (options.mode === 'docker')
      throw new Error('CODEYARD_RUNTIME=docker but no Docker engine answers', { cause: error });
    options.logger.warn({ err: error }, 'no Docker engine reachable; running workspaces as local processes');
    return processRuntime();
  }
}
