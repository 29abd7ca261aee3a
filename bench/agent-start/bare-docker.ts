import type Docker from 'dockerode';

/** The bare baseline's names: nothing the agent would ever create (`codeyard-` prefix is the agent's). */
export const bareNamePrefix = 'bench-bare-start-';
export const bareContainerPort = 8080;
const bytesPerMiB = 1024 * 1024;
const nanoCpusPerCpu = 1_000_000_000;

/**
 * `create → start` with dockerode and the flags the agent's Docker runtime uses (cap-drop ALL,
 * no-new-privileges, user 1000, memory/cpu/pids limits, a loopback port, a named volume, init,
 * bounded json-file logs): the floor the agent's start path is compared against.
 */
export async function bareCreateAndStart(
  docker: Docker,
  options: { id: string; image: string; hostPort: number; memoryMiB: number; cpu: number; pidsLimit: number },
): Promise<void> {
  const portKey = `${bareContainerPort}/tcp`;
  const container = await docker.createContainer({
    name: `${bareNamePrefix}${options.id}`,
    Image: options.image,
    Env: [`CODEYARD_CODESPACE_NAME=${options.id}`],
    User: '1000:1000',
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: String(options.hostPort) }] },
      Mounts: [{ Type: 'volume', Source: `${bareNamePrefix}vol-${options.id}`, Target: '/home/coder' }],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: options.memoryMiB * bytesPerMiB,
      MemorySwap: options.memoryMiB * bytesPerMiB,
      NanoCpus: Math.round(options.cpu * nanoCpusPerCpu),
      PidsLimit: options.pidsLimit,
      RestartPolicy: { Name: 'no' },
      Init: true,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  });
  await container.start();
}

/** Removes exactly the container and volume `bareCreateAndStart` made for `id`; missing is fine. */
export async function bareRemove(docker: Docker, id: string): Promise<void> {
  await docker
    .getContainer(`${bareNamePrefix}${id}`)
    .remove({ force: true })
    .catch(() => undefined);
  await docker
    .getVolume(`${bareNamePrefix}vol-${id}`)
    .remove()
    .catch(() => undefined);
}
