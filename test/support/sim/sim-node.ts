import type {
  EnsureRunningRequest,
  HeartbeatResponse,
  StopRequest,
} from '../../../src/model/agent-protocol.js';
import type { StopReason } from '../../../src/model/codespace.js';
import { CodeyardError } from '../../../src/model/errors.js';
import type { ContainerState, Heartbeat, ObservedContainer } from '../../../src/model/node.js';
import { shouldStopUnassigned } from '../../../src/node-agent/assignments.js';
import { AgentUnreachableError } from '../../../src/reconciler/agent-client.js';
import type { Clock } from '../../../src/reconciler/clock.js';

export interface SimContainer {
  uid: string;
  name: string;
  owner: string;
  generation: number;
  epoch: number;
  state: ContainerState;
  startedAt?: string;
  stopReason?: StopReason;
  exitCode?: number;
}

/** Grace before a node stops a container nobody assigns (the agent's default). */
export const simAssignmentGraceMs = 30_000;

/**
 * A node agent in memory with the protocol's semantics: idempotent commands keyed by uid,
 * deterministic container names (one container per uid at most), refusal of older epochs and
 * generations, heartbeats with boot id and sequence, and convergence from heartbeat answers.
 */
export class SimNode {
  readonly name: string;
  readonly slots: number;
  bootId: string;
  sequence = 0;
  highestEpoch = 0;
  /** The agent process answers. */
  up = true;
  /** The instance was terminated by the fleet: gone for good, with its containers. */
  terminated = false;
  readonly containers = new Map<string, SimContainer>();
  readonly volumes = new Set<string>();
  private boots = 0;
  private readonly clock: Clock;

  constructor(options: { name: string; slots: number; clock: Clock }) {
    this.name = options.name;
    this.slots = options.slots;
    this.clock = options.clock;
    this.bootId = `${this.name}-boot-0`;
  }

  get agentUrl(): string {
    return `http://sim/${this.name}`;
  }

  private admit(epoch: number, command: string): void {
    if (!this.up || this.terminated)
      throw new AgentUnreachableError(this.name, command, new Error('connection refused'));
    if (epoch < this.highestEpoch) {
      throw new CodeyardError('STALE_EPOCH', `epoch ${epoch} is older than ${this.highestEpoch}`);
    }
    this.highestEpoch = epoch;
  }

  private checkGeneration(uid: string, generation: number): void {
    const recorded = this.containers.get(uid)?.generation ?? 0;
    if (generation < recorded)
      throw new CodeyardError('STALE_GENERATION', `generation ${generation} < ${recorded}`);
  }

  ensureRunning(uid: string, request: EnsureRunningRequest, epoch: number): void {
    this.admit(epoch, 'ensureRunning');
    this.checkGeneration(uid, request.generation);
    const existing = this.containers.get(uid);
    this.volumes.add(uid);
    if (existing !== undefined) {
      existing.generation = request.generation;
      existing.epoch = epoch;
      if (existing.state === 'exited' || existing.state === 'stopping') {
        existing.state = 'creating';
        delete existing.stopReason;
        delete existing.exitCode;
      }
      return;
    }
    this.containers.set(uid, {
      uid,
      name: request.name,
      owner: request.owner,
      generation: request.generation,
      epoch,
      state: 'creating',
    });
  }

  stop(uid: string, request: StopRequest, epoch: number): void {
    this.admit(epoch, 'stop');
    this.checkGeneration(uid, request.generation);
    const container = this.containers.get(uid);
    if (container === undefined || container.state === 'exited') return;
    container.state = 'exited';
    container.stopReason = request.reason ?? 'User';
  }

  remove(uid: string, epoch: number): void {
    this.admit(epoch, 'remove');
    this.containers.delete(uid);
    this.volumes.delete(uid);
  }

  /** Containers finish starting between beats. */
  tick(): void {
    if (!this.up || this.terminated) return;
    for (const container of this.containers.values()) {
      if (container.state === 'creating') {
        container.state = 'running';
        container.startedAt = new Date(this.clock.nowMs()).toISOString();
      }
    }
  }

  /** The process dies; on a machine crash its containers die too. */
  crash(options: { containersSurvive: boolean }): void {
    this.up = false;
    if (!options.containersSurvive) this.containers.clear();
  }

  restart(): void {
    if (this.terminated) return;
    this.up = true;
    this.boots += 1;
    this.bootId = `${this.name}-boot-${this.boots}`;
    this.sequence = 0;
  }

  crashContainer(uid: string, exitCode: number): void {
    const container = this.containers.get(uid);
    if (container === undefined || container.state !== 'running') return;
    container.state = 'exited';
    container.exitCode = exitCode;
    delete container.stopReason;
  }

  idleStop(uid: string): void {
    const container = this.containers.get(uid);
    if (container === undefined || container.state !== 'running') return;
    container.state = 'exited';
    container.stopReason = 'Idle';
  }

  heartbeat(): Heartbeat {
    this.sequence += 1;
    const containers: ObservedContainer[] = [...this.containers.values()].map((c) => ({
      uid: c.uid,
      name: c.name,
      owner: c.owner,
      generation: c.generation,
      epoch: c.epoch,
      state: c.state,
      ready: c.state === 'running',
      ...(c.startedAt === undefined ? {} : { startedAt: c.startedAt }),
      ...(c.stopReason === undefined ? {} : { stopReason: c.stopReason }),
      ...(c.exitCode === undefined ? {} : { exitCode: c.exitCode }),
    }));
    const capacity = { slots: this.slots, cpu: this.slots, memoryMiB: this.slots * 2048 };
    return {
      nodeName: this.name,
      fleet: 'sim',
      bootId: this.bootId,
      sequence: this.sequence,
      sentAt: new Date(this.clock.nowMs()).toISOString(),
      agentUrl: this.agentUrl,
      proxyUrl: `http://proxy.sim/${this.name}`,
      capacity,
      allocatable: capacity,
      highestEpoch: this.highestEpoch,
      ready: true,
      draining: false,
      volumes: [...this.volumes].sort(),
      containers,
    };
  }

  /** The agent's rule: stop (never remove) a running container nobody assigns, after a grace period. */
  converge(response: HeartbeatResponse): void {
    if (!this.up || this.terminated || response.assignments === undefined || response.epoch === undefined)
      return;
    // As the agent does: any assignment, running or not, keeps a container from this rule.
    const assigned = new Set(response.assignments.map((a) => a.uid));
    for (const container of this.containers.values()) {
      const entry = {
        uid: container.uid,
        state: container.state,
        epoch: container.epoch,
        ...(container.startedAt === undefined ? {} : { startedAt: container.startedAt }),
      };
      const rule = {
        assigned,
        responseEpoch: response.epoch,
        highestEpoch: this.highestEpoch,
        nowMs: this.clock.nowMs(),
        graceMs: simAssignmentGraceMs,
      };
      if (shouldStopUnassigned(entry, rule)) {
        container.state = 'exited';
        container.stopReason = 'NodeLost';
      }
    }
  }
}
