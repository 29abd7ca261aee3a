import type { Logger } from 'pino';
import type { EnsureRunningRequest, StopRequest } from '../model/agent-protocol.js';
import type { StopReason } from '../model/codespace.js';
import { faultPoint } from '../fault-points/fault-point.js';
import { CodeyardError } from '../model/errors.js';
import type { ObservedContainer } from '../model/node.js';
import type { EpochStore } from './epoch-store.js';
import { assertCurrentEpoch, assertCurrentGeneration } from './fencing.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { KvCodespaceEntry } from './local-kv-format.js';
import type { LocalKv } from './local-kv.js';
import { activityUpdates, observedFrom } from './observed-view.js';
import type { PortPool } from './port-pool.js';
import { isLoopbackPortFree } from './port-probe.js';
import { waitUntilAnswering } from './readiness-probe.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import { specHashOf } from './spec-hash.js';

/** Tries with a different host port when the chosen one turns out to be taken by another program. */
export const portAttemptsMax = 3;
/** Ports found held by other programs that one start may skip before giving up. */
export const busyPortSkipsMax = 32;

export interface NodeAgentOptions {
  nodeName: string;
  runtime: ContainerRuntime;
  ports: PortPool;
  kv: LocalKv;
  epochs: EpochStore;
  maxContainers: number;
  logger: Logger;
  nowMs?: () => number;
  readyTimeoutMs?: number;
  /** Called after any change of observed state (the heartbeat client sends at once). */
  onChange?: () => void;
}

type Entry = KvCodespaceEntry & { name: string };

/**
 * The node agent's core: carries out the orchestrator's commands against the runtime, keeps the
 * port pool and local KV in step, and fences stale leaders. Commands for one codespace run one
 * at a time; different codespaces proceed concurrently. HTTP lives in agent-app.ts.
 */
export class NodeAgent {
  private readonly mutex = new KeyedMutex();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: NodeAgentOptions) {
    this.now = options.nowMs ?? Date.now;
  }

  get nodeName(): string {
    return this.options.nodeName;
  }

  get highestEpoch(): number {
    return this.options.epochs.highestEpoch;
  }

  get draining(): boolean {
    return this.options.kv.isDraining();
  }

  async ensureRunning(uid: string, request: EnsureRunningRequest, epoch: number): Promise<ObservedContainer> {
    await this.options.epochs.admit(epoch);
    return this.mutex.run(uid, async () => {
      assertCurrentEpoch(epoch, this.highestEpoch);
      const { runtime, ports, kv } = this.options;
      const current = await runtime.inspect(uid);
      const known = kv.get(uid);
      assertCurrentGeneration(uid, request.generation, { label: current?.generation, kv: known?.generation });
      // An idle stop is final for its generation: a start resent at that generation (crossing the
      // idle stop in flight) must not wake it. The orchestrator records running=false, and only a
      // user's new start (a newer generation) runs it again.
      if (
        known?.stopReason === 'Idle' &&
        current?.state !== 'running' &&
        request.generation <= known.generation
      ) {
        return this.view(uid)!;
      }
      const specHash = specHashOf(request.spec);
      if (
        current?.state === 'running' &&
        current.specHash === specHash &&
        ports.portOf(uid) === current.hostPort
      ) {
        kv.update(uid, {
          generation: request.generation,
          idleTimeoutSeconds: request.spec.idleTimeoutSeconds,
        });
        return this.view(uid)!;
      }
      const preferred = current?.hostPort ?? known?.hostPort;
      this.reserveSlot(uid, preferred, new Set());
      // Stopped, half-created, or shaped by an older spec: recreate it under the same name; the volume stays.
      if (current) await runtime.removeContainer(uid);
      const busyPorts = new Set<number>();
      for (let attempt = 1; ;) {
        const hostPort = this.reserveSlot(uid, preferred, busyPorts);
        if (!(await isLoopbackPortFree(hostPort))) {
          // Taken by another program: skip it (the slot is re-reserved at once, with no await between).
          ports.release(uid);
          busyPorts.add(hostPort);
          if (busyPorts.size > busyPortSkipsMax) {
            throw new CodeyardError(
              'NODE_FULL',
              `${busyPorts.size} host ports of the pool are held by other programs`,
            );
          }
          continue;
        }
        faultPoint('after-port-allocation');
        kv.set(uid, {
          name: request.name,
          uid,
          owner: request.owner,
          hostPort,
          state: 'creating',
          ready: false,
          generation: request.generation,
          epoch,
          cpu: request.spec.resources.cpu,
          memoryMiB: request.spec.resources.memoryMiB,
          idleTimeoutSeconds: request.spec.idleTimeoutSeconds,
          ...(known?.lastActivityAt ? { lastActivityAt: known.lastActivityAt } : {}),
        });
        faultPoint('after-kv-write');
        try {
          const started = await runtime.ensure({
            uid,
            name: request.name,
            owner: request.owner,
            generation: request.generation,
            epoch,
            hostPort,
            spec: request.spec,
            specHash,
          });
          kv.update(uid, {
            state: started.state,
            startedAt: started.startedAt ?? new Date(this.now()).toISOString(),
            stopReason: undefined,
          });
          this.options.logger.info({ codespace: request.name, uid, epoch, hostPort }, 'workspace started');
          this.probeReadiness(uid, hostPort);
          this.changed();
          return this.view(uid)!;
        } catch (error) {
          ports.release(uid);
          await runtime.removeContainer(uid).catch(() => undefined);
          if (isPortInUse(error) && attempt < portAttemptsMax) {
            attempt += 1;
            busyPorts.add(hostPort);
            continue;
          }
          kv.update(uid, { state: 'exited', ready: false, hostPort: undefined, stopReason: 'Failed' });
          this.changed();
          throw error;
        }
      }
    });
  }

  async stop(uid: string, request: StopRequest, epoch: number): Promise<ObservedContainer | null> {
    await this.options.epochs.admit(epoch);
    return this.mutex.run(uid, async () => {
      assertCurrentEpoch(epoch, this.highestEpoch);
      const current = await this.options.runtime.inspect(uid);
      assertCurrentGeneration(uid, request.generation, {
        label: current?.generation,
        kv: this.options.kv.get(uid)?.generation,
      });
      await this.stopLocked(uid, request.reason ?? 'User', { generation: request.generation });
      return this.view(uid) ?? null;
    });
  }

  async remove(uid: string, epoch: number): Promise<void> {
    await this.options.epochs.admit(epoch);
    await this.mutex.run(uid, async () => {
      assertCurrentEpoch(epoch, this.highestEpoch);
      await this.options.runtime.remove(uid);
      this.options.ports.release(uid);
      this.options.kv.delete(uid);
      this.options.logger.info({ uid, epoch }, 'workspace removed');
      this.changed();
    });
  }

  async drain(epoch: number): Promise<void> {
    await this.options.epochs.admit(epoch);
    if (!this.options.kv.isDraining()) {
      this.options.kv.setDraining(true);
      this.options.logger.info({ epoch }, 'draining: no new codespaces');
      this.changed();
    }
  }

  /** Stops a container idle past its timeout, unless activity arrived meanwhile (`stillIdle` re-checks under the lock). */
  async stopIfStill(
    uid: string,
    reason: StopReason,
    stillApplies: (entry: Entry) => boolean,
  ): Promise<boolean> {
    return this.mutex.run(uid, async () => {
      const entry = this.options.kv.get(uid);
      if (!entry || entry.state !== 'running' || !stillApplies(entry)) return false;
      await this.stopLocked(uid, reason, {});
      return true;
    });
  }

  /** Records proxy-reported activity (see `activityUpdates`). */
  recordActivity(lastActivity: Readonly<Record<string, string>>): void {
    for (const update of activityUpdates(this.options.kv.all(), lastActivity, this.now())) {
      this.options.kv.update(update.uid, { lastActivityAt: update.lastActivityAt });
    }
  }

  entries(): ReadonlyArray<Readonly<Entry>> {
    return this.options.kv.all();
  }

  observed(): ObservedContainer[] {
    return this.options.kv.all().map(observedFrom);
  }

  isBusy(uid: string): boolean {
    return this.mutex.isBusy(uid);
  }

  /** Applies a fresh runtime observation for one uid (rebuild and crash detection, see agent-sync.ts). */
  async withLock<T>(uid: string, operation: () => Promise<T>): Promise<T> {
    return this.mutex.run(uid, operation);
  }

  probeReadiness(uid: string, hostPort: number): void {
    const stillThere = () => {
      const entry = this.options.kv.get(uid);
      return !this.closed && entry?.state === 'running' && entry.hostPort === hostPort;
    };
    void waitUntilAnswering(hostPort, {
      shouldContinue: stillThere,
      timeoutMs: this.options.readyTimeoutMs,
    }).then((ready) => {
      if (ready && stillThere()) {
        this.options.kv.update(uid, { ready: true });
        this.changed();
      }
    });
  }

  changed(): void {
    this.options.onChange?.();
  }

  /** Ends background readiness probes (shutdown); workspaces keep running. */
  close(): void {
    this.closed = true;
  }

  private async stopLocked(uid: string, reason: StopReason, patch: { generation?: number }): Promise<void> {
    const before = this.options.kv.get(uid);
    if (before?.state === 'running') {
      // Withdraw the route before the container goes (the proxy watches kv.json): a request
      // arriving during the stop gets the proxy's own page instead of being forwarded into a dying
      // container, and no activity is recorded for a codespace already on its way down. The
      // reason is kept too, so an agent crash mid-stop does not lose why it was stopping.
      this.options.kv.update(uid, { state: 'stopping', ready: false, stopReason: reason });
      await this.options.kv.flush().catch(() => undefined);
    }
    try {
      await this.options.runtime.stop(uid);
    } catch (error) {
      if (before?.state === 'running' && before.hostPort !== undefined) {
        // Still running as far as we know: route to it again once it answers.
        this.options.kv.update(uid, { state: 'running', stopReason: undefined });
        this.probeReadiness(uid, before.hostPort);
      }
      throw error;
    }
    this.options.ports.release(uid);
    const entry = this.options.kv.get(uid);
    if (entry) {
      this.options.kv.update(uid, {
        state: 'exited',
        ready: false,
        hostPort: undefined,
        stopReason: reason,
        ...(patch.generation !== undefined
          ? { generation: Math.max(patch.generation, entry.generation) }
          : {}),
      });
      this.options.logger.info({ uid, codespace: entry.name, reason }, 'workspace stopped');
    }
    this.changed();
  }

  /** Capacity check and port allocation in one synchronous step, so concurrent starts cannot overfill the node. */
  private reserveSlot(uid: string, preferred: number | undefined, avoid: ReadonlySet<number>): number {
    const { ports, maxContainers, kv } = this.options;
    if (ports.portOf(uid) === undefined) {
      if (kv.isDraining())
        throw new CodeyardError('NODE_FULL', `node ${this.nodeName} is draining and takes no new codespaces`);
      if (ports.heldCount >= maxContainers) {
        throw new CodeyardError(
          'NODE_FULL',
          `node ${this.nodeName} already runs ${ports.heldCount} of at most ${maxContainers} containers`,
        );
      }
    }
    return ports.allocate(uid, { ...(preferred !== undefined ? { preferred } : {}), avoid });
  }

  private view(uid: string): ObservedContainer | undefined {
    const entry = this.options.kv.get(uid);
    return entry ? observedFrom(entry) : undefined;
  }
}

function isPortInUse(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /port is already allocated|address already in use/i.test(message);
}
