import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { pinnedCommand } from './cpu-pinning.js';

export const childStopTimeoutMs = 5000;

export interface StartedChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `childStopTimeoutMs`. */
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript entry with tsx, pinned to `cpu`, with an IPC channel (the child talks with
 * `process.send`). The pid is node's own: taskset execs it.
 */
export function startPinnedTsChild(options: {
  entry: string;
  cpu: number;
  env?: Readonly<Record<string, string>>;
  args?: readonly string[];
  /** `ignore` throws away the child's stdout; a file descriptor collects it (e.g. a server's logs). */
  stdout?: 'inherit' | 'ignore' | number;
  /** Without an IPC channel (a real server entry that does not expect one); default true. */
  ipc?: boolean;
}): StartedChild {
  // BENCH_SUT_CPU_PROF_DIR=<dir>: every system-under-test process writes a V8 CPU profile there.
  const profileDir = process.env.BENCH_SUT_CPU_PROF_DIR;
  const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const [command, args] = pinnedCommand(options.cpu, [
    process.execPath,
    ...profileArgs,
    '--import',
    'tsx',
    options.entry,
    ...(options.args ?? []),
  ]);
  const child = spawn(command, args, {
    stdio:
      options.ipc === false
        ? ['ignore', options.stdout ?? 'inherit', 'inherit']
        : ['ignore', options.stdout ?? 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...options.env },
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.entry}`);
  const pid = child.pid;
  return {
    child,
    pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), childStopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The next IPC message from `child` that `accept` picks out; rejects after `timeoutMs`. */
export function nextMessage<T>(
  child: ChildProcess,
  accept: (message: unknown) => message is T,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!accept(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child exited (code ${code}) while we waited for a message`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no message from the child within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
