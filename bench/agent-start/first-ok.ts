import { request } from 'node:http';
import { sleep } from '../lib/monotonic-clock.js';

/** The first connection to a just-published port can hang: each attempt gets this long. */
export const readinessAttemptTimeoutMs = 1_000;
export const readinessPollIntervalMs = 20;
export const readinessDeadlineMs = 120_000;

function attempt(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, timeout: readinessAttemptTimeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('attempt timed out')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls `http://127.0.0.1:<port><path>` until it answers 200; resolves with performance.now() then. */
export async function firstOk(port: number, path: string): Promise<number> {
  const deadline = performance.now() + readinessDeadlineMs;
  while (performance.now() < deadline) {
    if ((await attempt(port, path)) === 200) return performance.now();
    await sleep(readinessPollIntervalMs);
  }
  throw new Error(`127.0.0.1:${port}${path} gave no 200 within ${readinessDeadlineMs} ms`);
}
