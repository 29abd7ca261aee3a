/**
 * A Docker daemon of the test's own, so that a scenario can kill and restart "the node's
 * dockerd" without touching the machine's (other tests use it). Its data root, exec root (with
 * its managed containerd), pid file and unix socket live under a temp dir; it runs in a network
 * namespace of its own with no bridge, no iptables rules and no TCP listener, so it cannot touch
 * the machine's networking (in the host namespace, `--bridge=none` would delete the machine's
 * docker0). The test image is loaded into it from the machine's engine
 * (`docker save | docker -H unix://… load`): nothing is pulled. Killed and restarted by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';

export const dockerdBinary = '/usr/sbin/dockerd';
export const unshareBinary = '/usr/bin/unshare';
const readyTimeoutMs = 60_000;
const readyPollIntervalMs = 250;
const stopGraceMs = 15_000;
const imageLoadTimeoutMs = 120_000;

export class PrivateDockerd {
  readonly root: string;
  readonly socketPath: string;
  readonly host: string;
  readonly logPath: string;
  readonly docker: Docker;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(root: string) {
    this.root = root;
    this.socketPath = join(root, 'docker.sock');
    this.host = `unix://${this.socketPath}`;
    this.logPath = join(root, 'dockerd.log');
    this.docker = new Docker({ socketPath: this.socketPath });
  }

  /** Starts the daemon and loads `images` into it from the machine's engine. */
  static async start(options: { images: readonly string[] }): Promise<PrivateDockerd> {
    // Short: a unix socket path must stay under ~108 bytes.
    const daemon = new PrivateDockerd(mkdtempSync(join(tmpdir(), 'cyd-')));
    try {
      await daemon.launch();
      for (const image of options.images) await daemon.loadImage(image);
      return daemon;
    } catch (error) {
      await daemon.remove();
      throw error;
    }
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL the daemon (its containerd shims and containers are left as a crash leaves them). */
  async kill9(): Promise<void> {
    if (!this.isRunning()) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** Starts it again on the same roots and socket. */
  async restart(): Promise<void> {
    await this.kill9();
    await this.launch();
  }

  /** Stops the daemon (SIGTERM, then SIGKILL), removes every container it has, and its temp dir. */
  async remove(): Promise<void> {
    if (this.isRunning()) {
      const containers = await this.docker.listContainers({ all: true }).catch(() => []);
      for (const c of containers)
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      this.child!.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), stopGraceMs);
      await this.exited;
      clearTimeout(timer);
    }
    // Overlay mounts of a killed daemon may linger; unmount what is under our root before removing it.
    await run('sh', [
      '-c',
      `grep -o " ${this.root}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`,
    ]).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    mkdirSync(join(this.root, 'data'), { recursive: true });
    mkdirSync(join(this.root, 'exec'), { recursive: true });
    const log = openSync(this.logPath, 'a');
    try {
      // In a network namespace of its own (only a loopback): dockerd started with --bridge=none
      // deletes any interface named docker0 it can see, which in the host namespace is the
      // machine's own bridge. `unshare` execs dockerd, so the pid is the daemon's.
      this.child = spawn(
        unshareBinary,
        [
          '--net',
          '--',
          dockerdBinary,
          '--data-root',
          join(this.root, 'data'),
          '--exec-root',
          join(this.root, 'exec'),
          '--pidfile',
          join(this.root, 'dockerd.pid'),
          '--host',
          this.host,
          '--bridge=none',
          '--iptables=false',
          '--ip6tables=false',
          '--ip-masq=false',
        ],
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (!this.isRunning()) throw new Error(`private dockerd exited at start; see ${this.logPath}`);
      try {
        await this.docker.ping();
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`private dockerd not ready in ${readyTimeoutMs} ms; see ${this.logPath}`);
        await new Promise((resolve) => setTimeout(resolve, readyPollIntervalMs));
      }
    }
  }

  private async loadImage(image: string): Promise<void> {
    await run('sh', ['-c', `docker save ${image} | docker -H ${this.host} load`], imageLoadTimeoutMs);
  }
}

function run(command: string, args: readonly string[], timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
    });
  });
}
