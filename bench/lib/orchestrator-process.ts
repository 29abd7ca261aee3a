import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueDevToken } from '../../src/orchestrator/issue-dev-token.js';
import { startPinnedTsChild } from './child-process.js';
import { systemUnderTestCpu } from './cpu-pinning.js';
import { freeLoopbackPort } from './free-port.js';
import { httpRequest } from './http-client.js';
import { sleep } from './monotonic-clock.js';

const readyTimeoutMs = 120_000;
const readyPollMs = 100;

export interface BenchOrchestrator {
  readonly baseUrl: string;
  readonly pid: number;
  /** An admin API token signed with this orchestrator's keys. */
  readonly adminToken: string;
  /** A plain user's token (`bench-user`). */
  readonly userToken: string;
  stop(): Promise<void>;
}

/** pino levels: 40 warn, 50 error, 60 fatal. */
const problemLevelMin = 40;
const problemSamplesMax = 5;

/** A benchmark whose server logged warnings or errors says so (they explain odd latencies). */
export function reportProblems(logPath: string): void {
  const problems = readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => {
      const level = /"level":([0-9]+)/.exec(line)?.[1];
      return level !== undefined && Number(level) >= problemLevelMin;
    });
  if (problems.length === 0) return;
  process.stderr.write(
    `orchestrator logged ${problems.length} warnings/errors; first ${problemSamplesMax}:\n` +
      `${problems.slice(0, problemSamplesMax).join('\n')}\n`,
  );
}

/**
 * The orchestrator's real HTTP API in its own process (`api-server-process.ts`: the fastify app
 * and RedisStore main.ts builds, without the reconciler), pinned to the system-under-test core, with production settings except the limits a benchmark must lift:
 * rate limit, watches per token, codespaces per owner. Logs at the default `info` level go to a
 * file (pino formats and writes every line, as in production); warnings and errors are echoed at stop.
 */
export async function startBenchOrchestrator(options: { redisUrl: string }): Promise<BenchOrchestrator> {
  const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-bench-'));
  const adminToken = await issueDevToken({ user: 'bench-admin', admin: true, dataDir });
  const userToken = await issueDevToken({ user: 'bench-user', dataDir });
  const port = await freeLoopbackPort();
  const logPath = join(dataDir, 'orchestrator.log');
  const logFd = openSync(logPath, 'w');
  const started = startPinnedTsChild({
    entry: 'bench/lib/api-server-process.ts',
    cpu: systemUnderTestCpu,
    ipc: false,
    stdout: logFd,
    env: {
      CODEYARD_HOST: '127.0.0.1',
      CODEYARD_PORT: String(port),
      REDIS_URL: options.redisUrl,
      CODEYARD_DATA_DIR: dataDir,
      CODEYARD_WATCHES_PER_TOKEN_MAX: '1000',
      CODEYARD_MAX_CODESPACES_PER_OWNER: '10000',
      CODEYARD_RATE_LIMIT_PER_SECOND: '100000',
      CODEYARD_RATE_LIMIT_BURST: '1000000',
      CODEYARD_LOG_LEVEL: 'info',
    },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await started.stop();
    closeSync(logFd);
    reportProblems(logPath);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    try {
      if ((await httpRequest({ method: 'GET', url: `${baseUrl}/readyz` })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || started.child.exitCode !== null) {
      await stop();
      throw new Error(`the orchestrator did not become ready within ${readyTimeoutMs} ms`);
    }
    await sleep(readyPollMs);
  }
  return { baseUrl, pid: started.pid, adminToken, userToken, stop };
}
