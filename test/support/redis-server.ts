/**
 * Starts a real `redis-server` (the Debian binary) on a free loopback port for a test, and stops it
 * by pid. Tests that need Redis fail loudly when the binary is missing: they never skip.
 *
 *   const redis = await startRedisServer();               // in-memory, no persistence
 *   const durable = await startRedisServer({ persistence: 'aof' }); // survives kill9() + restart()
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';

export const redisServerBinaryDefault = '/usr/bin/redis-server';
const loopbackHost = '127.0.0.1';
const startTimeoutMs = 10_000;
const stopTimeoutMs = 5_000;
const pingIntervalMs = 25;
const portAttemptsMax = 5;

export interface RedisServerOptions {
  /** `aof`: append-only file with fsync on every write, in `dataDir` (a fresh temp dir by default). */
  persistence?: 'none' | 'aof';
  /** Where the AOF lives; removed on `stop()` only when the harness created it. */
  dataDir?: string;
  binary?: string;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '64mb']`. */
  extraArgs?: readonly string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The pid of the running server (changes on `restart()`). */
  readonly pid: number;
  /** SIGTERM, then SIGKILL after a grace period; removes a data dir the harness created. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, as far as clients can tell. */
  kill9(): Promise<void>;
  /** Starts the server again on the same port (and data dir) after `kill9()` or `stop()`. */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  // Last resort if a test forgot to stop its server: never leave redis-server processes behind.
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? redisServerBinaryDefault;
  if (!existsSync(binary)) {
    throw new Error(
      `redis-server not found at ${binary}: integration tests need the Debian package (apt-get install redis-server)`,
    );
  }
  const persistence = options.persistence ?? 'none';
  const ownsDataDir = persistence === 'aof' && options.dataDir === undefined;
  const dataDir =
    persistence === 'aof' ? (options.dataDir ?? mkdtempSync(join(tmpdir(), 'codeyard-redis-'))) : undefined;

  function argsFor(port: number): string[] {
    const args = ['--port', String(port), '--bind', loopbackHost, '--save', ''];
    if (dataDir !== undefined) {
      args.push('--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir);
    } else {
      args.push('--appendonly', 'no');
    }
    return [...args, ...(options.extraArgs ?? [])];
  }

  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < portAttemptsMax && child === undefined; attempt += 1) {
    port = await freeLoopbackPort();
    try {
      child = await launch(binary, argsFor(port), port);
    } catch (error) {
      // Another process may have taken the port between probing and binding: try another.
      lastError = error;
    }
  }
  if (child === undefined) {
    throw new Error(`could not start redis-server: ${String(lastError)}`);
  }

  let current: ChildProcess = child;
  const server: RedisServer = {
    url: `redis://${loopbackHost}:${port}`,
    port,
    get pid() {
      return current.pid ?? -1;
    },
    async stop() {
      await terminate(current, 'SIGTERM');
      if (ownsDataDir && dataDir !== undefined) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    async kill9() {
      await terminate(current, 'SIGKILL');
    },
    async restart() {
      await terminate(current, 'SIGKILL');
      current = await launch(binary, argsFor(port), port);
    },
  };
  return server;
}

async function launch(binary: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    // Keep only the tail: enough to explain a failed start.
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => running.delete(child));

  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited at start (code ${child.exitCode}): ${output}`);
    }
    if (await answersPing(port)) {
      return child;
    }
    await sleep(pingIntervalMs);
  }
  await terminate(child, 'SIGKILL');
  throw new Error(`redis-server did not answer PING on port ${port} within ${startTimeoutMs} ms: ${output}`);
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, signal);
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  }, stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: loopbackHost, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        // "-LOADING" means not ready yet; only +PONG counts.
        finish(reply.startsWith('+PONG'));
      }
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
