import Docker from 'dockerode';

export const dockerPingTimeoutMs = 2_000;

/** Whether a Docker engine answers on the default socket (or DOCKER_HOST) within a short time. */
export async function dockerAvailable(): Promise<boolean> {
  const docker = new Docker();
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), dockerPingTimeoutMs).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}
