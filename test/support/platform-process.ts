/**
 * Runs the real `codeyard up` as a child process, the way a person does, for end-to-end tests:
 * its own free port, a temp data dir and a temp CLI config file. `stop()` is Ctrl-C (SIGINT to
 * that pid) and asserts a clean exit. Fails loudly (never skips) when Docker is missing.
 *
 *   const platform = await startPlatformProcess();
 *   const { stdout } = await platform.cli(['ls']);
 *   await platform.stop();
 *   await assertNoContainersLeft({ nodeNames: platform.nodeNames, uids });
 */
import Docker from 'dockerode';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labelKeys } from '../../src/node-agent/runtime/labels.js';
import { volumeNameFor } from '../../src/model/codespace.js';
import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const binPath = join(repoRoot, 'bin', 'codeyard.js');
/** Start-up runs tsx, checks the image and waits for the first node to be Ready. */
const startTimeoutMsDefault = 90_000;
/** Stopping removes the nodes' containers; code-server takes a few seconds to go. */
const stopTimeoutMs = 60_000;
const cliTimeoutMs = 30_000;
/** Nodes are emptied late, so a test sees their containers leave; long enough never to fire in a run. */
const scaleInAfterSeconds = 3_600;
const readyLine = 'codeyard is up.';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PlatformProcess {
  /** The API, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The web UI with the admin token in its fragment, as printed. */
  readonly uiUrl: string;
  readonly token: string;
  /** The CLI config `codeyard up` wrote (API URL + token); pass as `CODEYARD_CONFIG`. */
  readonly configPath: string;
  readonly dataDir: string;
  /** The nodes `up` starts: `<prefix>1`, … (a random prefix, so its containers' labels are its own). */
  readonly nodeNames: readonly string[];
  readonly pid: number;
  /** Everything the process printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Runs `node bin/codeyard.js ...args` against this platform; never throws on a non-zero exit. */
  cli(args: readonly string[], options?: { env?: Record<string, string> }): Promise<CliResult>;
  /** Ctrl-C: SIGINT to the pid, waits for exit (SIGKILL on timeout) and rejects unless it exited 0. */
  stop(): Promise<void>;
}

export { freeLoopbackPort };

/** Runs the real binary with `execFile`; the environment gets only what the CLI needs. */
export function runCli(
  args: readonly string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<CliResult> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [binPath, ...args],
      {
        cwd: options.cwd ?? repoRoot,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
        timeout: cliTimeoutMs,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}

const started = new Set<ChildProcess>();
process.once('exit', () => {
  // Last resort if a test failed before stop(): never leave a platform running.
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  }
});

export async function startPlatformProcess(
  options: { startTimeoutMs?: number; nodes?: number; maxNodes?: number; nodePrefix?: string } = {},
): Promise<PlatformProcess> {
  // Docker labels name the node, engine-wide: another platform's `local-1` (a parallel test, or a
  // developer's own `codeyard up`) would take this one's containers for orphans, and fence them.
  const nodePrefix = options.nodePrefix ?? `up${randomBytes(3).toString('hex')}-`;
  const nodes = options.nodes ?? 1;
  await assertDockerAnswers();
  const port = await freeLoopbackPort();
  const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-e2e-'));
  const configPath = join(dataDir, 'cli-config.json');
  const child = spawn(
    process.execPath,
    [
      binPath,
      'up',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--runtime',
      'docker',
      '--nodes',
      String(nodes),
      '--node-prefix',
      nodePrefix,
      '--max-nodes',
      String(options.maxNodes ?? 1),
      '--scale-in-after',
      String(scaleInAfterSeconds),
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, CODEYARD_CONFIG: configPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.add(child);
  let printed = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));

  const deadline = Date.now() + (options.startTimeoutMs ?? startTimeoutMsDefault);
  while (!printed.includes(readyLine)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `codeyard up exited (${child.exitCode ?? child.signalCode}) before it was up:\n${printed}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`codeyard up printed no "${readyLine}" in time:\n${printed}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The block after the ready line is written at once; give the pipe a moment to deliver it.
  while (!/Token:\s+\S+/.test(printed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const uiUrl = /Web UI:\s+(\S+)/.exec(printed)?.[1];
  const token = /Token:\s+(\S+)/.exec(printed)?.[1];
  const apiUrl = /API:\s+(\S+)/.exec(printed)?.[1];
  if (!uiUrl || !token || !apiUrl)
    throw new Error(`cannot read the UI URL, API URL or token from:\n${printed}`);

  let stopped: Promise<void> | undefined;
  return {
    url: apiUrl,
    uiUrl,
    token,
    configPath,
    dataDir,
    nodeNames: Array.from({ length: nodes }, (_, i) => `${nodePrefix}${i + 1}`),
    pid: child.pid!,
    output: () => printed,
    cli: (args, cliOptions = {}) => runCli(args, { env: { CODEYARD_CONFIG: configPath, ...cliOptions.env } }),
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGINT');
        const timer = setTimeout(() => {
          if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
        }, stopTimeoutMs);
        const code = await exited;
        clearTimeout(timer);
        started.delete(child);
        if (code !== 0)
          throw new Error(`codeyard up exited with ${code ?? child.signalCode} on Ctrl-C:\n${printed}`);
        rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}

const docker = new Docker();

async function assertDockerAnswers(): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    throw new Error(`the e2e platform tests need a running Docker engine: ${(error as Error).message}`);
  }
}

/** Asserts that no container of these nodes, nor of these codespaces, remains. */
export async function assertNoContainersLeft(options: {
  nodeNames: readonly string[];
  uids: readonly string[];
}): Promise<void> {
  const leftovers: string[] = [];
  for (const [key, values] of [
    [labelKeys.node, options.nodeNames],
    [labelKeys.uid, options.uids],
  ] as const) {
    for (const value of values) {
      const found = await docker.listContainers({ all: true, filters: { label: [`${key}=${value}`] } });
      leftovers.push(...found.map((c) => `${c.Names.join(',')} (${key}=${value}, ${c.State})`));
    }
  }
  if (leftovers.length > 0) throw new Error(`containers left behind: ${leftovers.join('; ')}`);
}

/** Removes the codespaces' volumes (`codeyard-vol-<uid>`) a test made; a missing one is fine. */
export async function removeVolumes(uids: readonly string[]): Promise<void> {
  for (const uid of uids) {
    try {
      await docker.getVolume(volumeNameFor(uid)).remove({ force: true });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
}
