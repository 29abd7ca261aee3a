/**
 * An orchestrator replica as a real OS process (`node --import tsx src/orchestrator/main.ts`),
 * configured only through its environment, as in production. Tests start several against one
 * Redis, `kill -9` one, and stop the rest by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const readyTimeoutMs = 60_000;
const readyPollIntervalMs = 250;
const stopGraceMs = 15_000;

export interface OrchestratorProcessOptions {
  readonly name: string;
  readonly port: number;
  /** Signing keys live here; replicas sharing it verify each other's tokens. */
  readonly dataDir: string;
  readonly redisUrl: string;
  /** `CODEYARD_*` settings beyond the ones above. */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr are appended to `<logDir>/<name>.log`. */
  readonly logDir: string;
}

export class OrchestratorProcess {
  readonly url: string;
  readonly logPath: string;
  private constructor(
    readonly options: OrchestratorProcessOptions,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {
    this.url = `http://127.0.0.1:${options.port}`;
    this.logPath = join(options.logDir, `${options.name}.log`);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  static async start(options: OrchestratorProcessOptions): Promise<OrchestratorProcess> {
    const log = openSync(join(options.logDir, `${options.name}.log`), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'src/orchestrator/main.ts')], {
        cwd: repositoryRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          CODEYARD_HOST: '127.0.0.1',
          CODEYARD_PORT: String(options.port),
          CODEYARD_DATA_DIR: options.dataDir,
          REDIS_URL: options.redisUrl,
          ...options.env,
        },
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const replica = new OrchestratorProcess(options, child, exited);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (replica.hasExited()) throw new Error(`${options.name} exited at start; see ${replica.logPath}`);
      if (await replica.answersReady()) return replica;
      if (Date.now() > deadline) {
        await replica.kill9();
        throw new Error(`${options.name} not ready within ${readyTimeoutMs} ms; see ${replica.logPath}`);
      }
      await new Promise((resolve) => setTimeout(resolve, readyPollIntervalMs));
    }
  }

  async answersReady(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  /** A crash: no lease release, no goodbye. */
  async kill9(): Promise<void> {
    if (this.hasExited()) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful stop (SIGTERM), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.hasExited()) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), stopGraceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
