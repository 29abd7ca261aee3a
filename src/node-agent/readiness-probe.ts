import { setTimeout as sleep } from 'node:timers/promises';

/** How long a new workspace may take to answer HTTP before we stop waiting (code-server needs a few seconds). */
export const readyTimeoutMsDefault = 120_000;
export const readyProbeIntervalMs = 250;
const probeRequestTimeoutMs = 1_000;

/**
 * Waits until something answers HTTP on the loopback port (any status below 500: code-server
 * redirects to its login page), or `shouldContinue` says the container is gone. Returns
 * whether it answered.
 */
export async function waitUntilAnswering(
  port: number,
  options: { timeoutMs?: number; shouldContinue: () => boolean },
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? readyTimeoutMsDefault);
  while (Date.now() < deadline && options.shouldContinue()) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(probeRequestTimeoutMs),
      });
      await response.body?.cancel();
      if (response.status < 500) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(readyProbeIntervalMs);
  }
  return false;
}
