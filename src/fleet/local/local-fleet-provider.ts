import { join } from 'node:path';
import { CodeyardError } from '../../model/errors.js';
import { silentFleetLogger, type FleetLogger } from '../fleet-logger.js';
import type {
  FleetDescription,
  FleetInstance,
  FleetProvider,
  InstanceLifecycle,
  LifecycleActionStatus,
  ScaleInProtection,
  TerminationLifecycle,
} from '../fleet-provider.js';
import { freeLoopbackPort } from './free-port.js';
import {
  processNodeLauncher,
  type LaunchedProcess,
  type LocalNodeSpec,
  type NodeLauncher,
} from './node-launcher.js';
import { noWorkloadFence, type WorkloadFence } from './workload-fence.js';

export const hookTimeoutMsDefault = 5 * 60_000;
export const killGraceMsDefault = 10_000;
export const healthPollIntervalMsDefault = 500;
export const healthRequestTimeoutMsDefault = 2_000;
/** First delay before replacing a node that died; doubles while replacements keep dying. */
export const replaceDelayMsMin = 1_000;
export const replaceDelayMsMax = 60_000;
/** Container host ports: node `local-n` gets the n-th block of `containerPortsPerNode` from here. */
export const containerPortBaseDefault = 42_000;
export const containerPortsPerNodeDefault = 100;
const highestPort = 65_535;
/** Terminated nodes stay listed (positive evidence of fencing) up to this many. */
export const terminatedHistoryMax = 100;

export interface LocalFleetProviderOptions {
  readonly fleet: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** Initial desired capacity; default `minSize`. Nodes launch on `start()`. */
  readonly desiredCapacity?: number;
  /** Node `local-3` keeps its data under `<dataRoot>/local-3`. */
  readonly dataRoot: string;
  readonly orchestratorUrl: string;
  readonly joinSecret: string;
  readonly host?: string;
  /** Default: spawn the real node agent and proxy with `node --import tsx`. */
  readonly launcher?: NodeLauncher;
  /** Run after a node's processes have exited; default: nothing (pass the Docker or process fence). */
  readonly fenceWorkloads?: WorkloadFence;
  /**
   * The termination lifecycle hook: told when a node starts terminating; the orchestrator
   * cordons and drains it, then calls `completeLifecycleAction`. Without it, terminations
   * proceed at once.
   */
  readonly onTerminating?: (nodeName: string) => unknown;
  /** How long the hook waits for `completeLifecycleAction`; a heartbeat restarts it. Default 5 min. */
  readonly hookTimeoutMs?: number;
  /** SIGTERM, then SIGKILL after this. Default 10 s. */
  readonly killGraceMs?: number;
  readonly healthPollIntervalMs?: number;
  readonly healthRequestTimeoutMs?: number;
  readonly logger?: FleetLogger;
  /** The first node is `<namePrefix>1`. Default `local-`. */
  readonly namePrefix?: string;
  /** Where the nodes' container host-port blocks start. Default 42000. */
  readonly containerPortBase?: number;
  /** Host ports per node (at least the agent's max containers). Default 100. */
  readonly containerPortsPerNode?: number;
}

interface HookWait {
  readonly done: Promise<void>;
  complete(): void;
  /** Restarts the timeout. */
  heartbeat(): void;
}

interface LocalNode {
  readonly spec: LocalNodeSpec;
  readonly launchedAtMs: number;
  lifecycle: InstanceLifecycle;
  processes: readonly LaunchedProcess[];
  hook: HookWait | undefined;
  terminated: Promise<void> | undefined;
  /** Settles once the launcher returned: a termination waits for it, so no process escapes. */
  launched: Promise<void>;
}

/**
 * A fleet of node processes on this machine, for `codeyard up` and tests. Each node is a node
 * agent process plus a node proxy process with their own loopback ports, name and data
 * directory. Like an Auto Scaling Group it keeps the number of live nodes at the desired
 * capacity, replaces a node whose process died, and plays a termination lifecycle hook before
 * it stops a node. A node is reported Terminated only once every process of it has exited (seen
 * through the exit event) and its workloads are fenced.
 */
export class LocalFleetProvider implements FleetProvider, TerminationLifecycle, ScaleInProtection {
  readonly fleet: string;
  private readonly nodes = new Map<string, LocalNode>();
  private readonly protectedNodes = new Set<string>();
  private readonly launcher: NodeLauncher;
  private readonly fence: WorkloadFence;
  private readonly logger: FleetLogger;
  private readonly timers = new Set<NodeJS.Timeout>();
  private desired: number;
  private nextIndex = 1;
  private closed = false;
  /** Grows while nodes die before they reach InService, so a broken node binary does not spin. */
  private replaceDelayMs = replaceDelayMsMin;
  /** Serialises convergence so two calls never launch the same missing node twice. */
  private converging: Promise<void> = Promise.resolve();

  constructor(private readonly options: LocalFleetProviderOptions) {
    if (options.minSize < 0 || options.maxSize < options.minSize) {
      throw new CodeyardError('VALIDATION_FAILED', `fleet ${options.fleet}: need 0 ≤ minSize ≤ maxSize`, {
        field: 'minSize',
      });
    }
    this.fleet = options.fleet;
    this.launcher = options.launcher ?? processNodeLauncher();
    this.fence = options.fenceWorkloads ?? noWorkloadFence;
    this.logger = options.logger ?? silentFleetLogger;
    this.desired = this.clamp(options.desiredCapacity ?? options.minSize);
  }

  /** Launches nodes up to the desired capacity. */
  async start(): Promise<void> {
    await this.converge();
  }

  async describe(): Promise<FleetDescription> {
    const instances: FleetInstance[] = [...this.nodes.values()].map((node) => ({
      nodeName: node.spec.name,
      lifecycle: node.lifecycle,
      ...(node.hook ? { terminationHookPending: true } : {}),
    }));
    return {
      fleet: this.fleet,
      minSize: this.options.minSize,
      maxSize: this.options.maxSize,
      desiredCapacity: this.desired,
      instances,
    };
  }

  /** Where a node listens and keeps its data; undefined for a node this provider does not know. */
  nodeSpec(nodeName: string): LocalNodeSpec | undefined {
    return this.nodes.get(nodeName)?.spec;
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    this.desired = this.clamp(desired);
    await this.converge();
  }

  async terminate(nodeName: string, options: { decrementDesiredCapacity: boolean }): Promise<void> {
    const node = this.nodes.get(nodeName);
    // Idempotent: an unknown node is gone, a terminating one is on its way.
    if (node === undefined || node.lifecycle === 'Terminating' || node.lifecycle === 'Terminated') return;
    if (options.decrementDesiredCapacity) this.desired = this.clamp(this.desired - 1);
    this.beginTermination(node, { hook: true });
    await this.converge();
  }

  /** Resolves once the node is Terminated (at once for an unknown one). For callers that must wait. */
  async waitForTerminated(nodeName: string): Promise<void> {
    await this.nodes.get(nodeName)?.terminated;
  }

  async recordLifecycleActionHeartbeat(nodeName: string): Promise<LifecycleActionStatus> {
    const hook = this.nodes.get(nodeName)?.hook;
    if (hook === undefined) return 'expired';
    hook.heartbeat();
    return 'active';
  }

  async completeLifecycleAction(
    nodeName: string,
    _result: 'CONTINUE' | 'ABANDON',
  ): Promise<LifecycleActionStatus> {
    // As on AWS, ABANDON terminates too: a hook cannot veto a termination.
    const hook = this.nodes.get(nodeName)?.hook;
    if (hook === undefined) return 'expired';
    hook.complete();
    return 'completed';
  }

  async setScaleInProtection(nodeNames: readonly string[], protectedFromScaleIn: boolean): Promise<void> {
    for (const name of nodeNames) {
      if (protectedFromScaleIn) this.protectedNodes.add(name);
      else this.protectedNodes.delete(name);
    }
  }

  /**
   * Stops background work (health polls, replacements); node processes keep running and
   * terminations in progress finish (see `shutdown` to stop everything).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Stops every node this provider started, without hooks (Ctrl-C on `codeyard up`), and fences their workloads. */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.desired = 0;
    for (const node of this.nodes.values()) {
      if (node.lifecycle !== 'Terminating' && node.lifecycle !== 'Terminated') {
        this.beginTermination(node, { hook: false });
      }
      node.hook?.complete();
    }
    await Promise.all([...this.nodes.values()].map((node) => node.terminated));
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private clamp(desired: number): number {
    return Math.min(this.options.maxSize, Math.max(this.options.minSize, Math.floor(desired)));
  }

  private converge(): Promise<void> {
    const run = this.converging.then(() => this.convergeOnce());
    // A failed launch must not wedge later convergence; the caller still sees the error.
    this.converging = run.catch(() => undefined);
    return run;
  }

  private async convergeOnce(): Promise<void> {
    if (this.closed) return;
    const live = [...this.nodes.values()].filter(
      (n) => n.lifecycle === 'Pending' || n.lifecycle === 'InService',
    );
    if (live.length < this.desired) {
      for (let i = live.length; i < this.desired; i += 1) await this.launch();
      return;
    }
    // Too many: like an ASG, pick unprotected nodes first, the most recently launched first.
    const excess = live.length - this.desired;
    const victims = [...live]
      .sort((a, b) => {
        const protection =
          Number(this.protectedNodes.has(a.spec.name)) - Number(this.protectedNodes.has(b.spec.name));
        return protection !== 0
          ? protection
          : b.launchedAtMs - a.launchedAtMs || b.spec.name.localeCompare(a.spec.name);
      })
      .slice(0, excess);
    for (const node of victims) this.beginTermination(node, { hook: true });
  }

  private async launch(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const index = this.nextIndex;
    const name = `${this.options.namePrefix ?? 'local-'}${index}`;
    this.nextIndex += 1;
    const agentPort = await freeLoopbackPort(host);
    let proxyPort = await freeLoopbackPort(host);
    while (proxyPort === agentPort) proxyPort = await freeLoopbackPort(host);
    const spec: LocalNodeSpec = {
      name,
      fleet: this.fleet,
      host,
      agentPort,
      proxyPort,
      agentUrl: `http://${host}:${agentPort}`,
      proxyUrl: `http://${host}:${proxyPort}`,
      dataDir: join(this.options.dataRoot, name),
      orchestratorUrl: this.options.orchestratorUrl,
      joinSecret: this.options.joinSecret,
      containerPortRange: this.portBlock(index),
    };
    const node: LocalNode = {
      spec,
      launchedAtMs: Date.now(),
      lifecycle: 'Pending',
      processes: [],
      hook: undefined,
      terminated: undefined,
      launched: Promise.resolve(),
    };
    this.nodes.set(name, node);
    this.pruneHistory();
    const launching = this.launcher(spec);
    node.launched = launching.then(
      () => undefined,
      () => undefined,
    );
    try {
      node.processes = await launching;
    } catch (error) {
      node.lifecycle = 'Terminated';
      node.terminated = Promise.resolve();
      throw new CodeyardError('FLEET_UNAVAILABLE', `cannot launch node ${name}: ${String(error)}`, {
        cause: error,
      });
    }
    this.logger.info(
      { node: name, pids: node.processes.map((p) => p.pid), agentPort, proxyPort },
      'node launched',
    );
    for (const process of node.processes) {
      void process.exited.then(() => this.onProcessExit(node, process));
    }
    this.pollHealth(node);
  }

  /** A process that exits on its own takes its node down with it; the fleet then replaces the node. */
  private onProcessExit(node: LocalNode, process: LaunchedProcess): void {
    if (node.lifecycle === 'Terminating' || node.lifecycle === 'Terminated') return;
    this.logger.warn(
      { node: node.spec.name, role: process.role, pid: process.pid },
      'node process exited: replacing the node',
    );
    const diedBeforeService = node.lifecycle === 'Pending';
    this.beginTermination(node, { hook: false });
    const delayMs = this.replaceDelayMs;
    if (diedBeforeService) this.replaceDelayMs = Math.min(replaceDelayMsMax, this.replaceDelayMs * 2);
    this.schedule(delayMs, () =>
      this.converge().catch((error) =>
        this.logger.warn({ node: node.spec.name, error: String(error) }, 'replacement launch failed'),
      ),
    );
  }

  private pollHealth(node: LocalNode): void {
    const intervalMs = this.options.healthPollIntervalMs ?? healthPollIntervalMsDefault;
    const check = async () => {
      if (this.closed || node.lifecycle !== 'Pending') return;
      if (await this.healthy(node.spec.agentUrl)) {
        if (node.lifecycle === 'Pending') {
          node.lifecycle = 'InService';
          this.replaceDelayMs = replaceDelayMsMin;
          this.logger.info({ node: node.spec.name }, 'node in service');
        }
        return;
      }
      this.schedule(intervalMs, check);
    };
    void check();
  }

  private async healthy(agentUrl: string): Promise<boolean> {
    try {
      const response = await fetch(`${agentUrl}/healthz`, {
        signal: AbortSignal.timeout(this.options.healthRequestTimeoutMs ?? healthRequestTimeoutMsDefault),
      });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  private schedule(delayMs: number, run: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, delayMs);
    this.timers.add(timer);
  }

  private beginTermination(node: LocalNode, options: { hook: boolean }): void {
    node.lifecycle = 'Terminating';
    const useHook = options.hook && this.options.onTerminating !== undefined && !this.closed;
    node.hook = useHook ? this.openHook(node) : undefined;
    node.terminated = (async () => {
      if (node.hook) await node.hook.done;
      node.hook = undefined;
      await node.launched;
      await this.stopProcesses(node);
      try {
        await this.fence(node.spec);
      } catch (error) {
        // Unfenced workloads may still serve: stay Terminating so nobody moves codespaces off it.
        this.logger.warn(
          { node: node.spec.name, error: String(error) },
          'fencing workloads failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, this.options.killGraceMs ?? killGraceMsDefault));
        await this.fence(node.spec);
      }
      node.lifecycle = 'Terminated';
      this.protectedNodes.delete(node.spec.name);
      this.logger.info({ node: node.spec.name }, 'node terminated');
    })();
    // A second fence failure leaves the node Terminating; the error is logged, not thrown.
    node.terminated = node.terminated.catch((error) =>
      this.logger.warn({ node: node.spec.name, error: String(error) }, 'node could not be fenced'),
    );
  }

  private openHook(node: LocalNode): HookWait {
    const timeoutMs = this.options.hookTimeoutMs ?? hookTimeoutMsDefault;
    let finish: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      finish = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        this.logger.warn(
          { node: node.spec.name, hookTimeoutMs: timeoutMs },
          'termination hook timed out: proceeding',
        );
        finish();
      }, timeoutMs);
    };
    arm();
    const notify = this.options.onTerminating;
    if (notify) {
      void Promise.resolve()
        .then(() => notify(node.spec.name))
        .catch((error) =>
          this.logger.warn({ node: node.spec.name, error: String(error) }, 'onTerminating failed'),
        );
    }
    return { done, complete: finish, heartbeat: arm };
  }

  private async stopProcesses(node: LocalNode): Promise<void> {
    const graceMs = this.options.killGraceMs ?? killGraceMsDefault;
    for (const process of node.processes) process.signal('SIGTERM');
    const allExited = Promise.all(node.processes.map((p) => p.exited));
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace'), graceMs);
    });
    const first = await Promise.race([allExited.then(() => 'exited' as const), graceOver]);
    clearTimeout(graceTimer);
    if (first === 'grace') {
      for (const process of node.processes) {
        if (!process.hasExited()) {
          this.logger.warn(
            { node: node.spec.name, role: process.role, pid: process.pid },
            'SIGKILL after grace',
          );
          process.signal('SIGKILL');
        }
      }
      await allExited;
    }
  }

  /** Blocks are reused round-robin: two live nodes share one only if more nodes run than blocks fit. */
  private portBlock(index: number): { start: number; end: number } {
    const base = this.options.containerPortBase ?? containerPortBaseDefault;
    const size = this.options.containerPortsPerNode ?? containerPortsPerNodeDefault;
    const blocks = Math.max(1, Math.floor((highestPort - base + 1) / size));
    const start = base + ((index - 1) % blocks) * size;
    return { start, end: start + size - 1 };
  }

  private pruneHistory(): void {
    const terminated = [...this.nodes.values()].filter((n) => n.lifecycle === 'Terminated');
    for (const node of terminated.slice(0, Math.max(0, terminated.length - terminatedHistoryMax))) {
      this.nodes.delete(node.spec.name);
    }
  }
}
