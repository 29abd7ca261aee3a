/**
 * The continuous invariant monitor of the chaos suite. Every `invariantSampleIntervalMs` it
 * samples Docker (every engine the cluster's nodes use), the API, the node records, each node's
 * local KV file and the fleet, and records a violation — with what it saw — whenever one of the
 * issue's invariants that are observable from outside fails:
 *
 *   - at most one running container per codespace uid (across every node of the cluster);
 *   - no acknowledged spec lost: every created-and-not-deleted codespace still listed, same uid,
 *     spec unchanged (except `running`, which idle stops and start/stop flip);
 *   - no healthy node fenced: the orchestrators never terminate a node whose beats still reach
 *     its load balancer (event-driven, from the fleet service; see `ChaosCluster`);
 *   - ports ↔ containers one-to-one per node: the KV's running entries and Docker's running
 *     containers name the same uids on the same host ports, no port twice (a mismatch must not
 *     outlive `portMismatchGraceMs`: the agent writes the KV just after Docker answers);
 *   - a node's observed state never moves backwards: within one boot its sequence never drops;
 *   - open sessions survive control-plane-only faults (while `sessionsMustFlow` is set, any
 *     failed session probe is a violation).
 *
 * A level-triggered loop heals ordering bugs fast enough to hide them from end-state checks: this
 * is why the checks run while the fault is on, not only after. `converged()` measures the time to
 * converge once a fault has ended.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Codespace, CodespaceSpec } from '../../../src/model/codespace.js';
import type { NodeRecord } from '../../../src/model/node.js';
import { localKvFileName, parseLocalKv } from '../../../src/node-agent/local-kv-format.js';
import { labelKeys } from '../../../src/node-agent/runtime/labels.js';
import type { LiveSession } from './live-session.js';

export const invariantSampleIntervalMs = 1_000;
export const portMismatchGraceMs = 5_000;
/** The issue's bound: once a fault ends, everything is back in its desired state within this. */
export const convergenceBoundMs = 30_000;
const convergencePollIntervalMs = 250;

export interface ObservedDockerContainer {
  readonly uid: string;
  readonly name: string;
  readonly node: string;
  readonly state: string;
  readonly hostPort: number | undefined;
}

/** What the monitor reads; the chaos cluster provides it. */
export interface MonitorSources {
  /** Every Docker engine a node of the cluster may use (the machine's, a private dockerd). */
  readonly dockerEngines: () => readonly Docker[];
  readonly nodePrefix: string;
  /** The API's view through any live replica; undefined while no replica answers (Redis down: 503). */
  listCodespaces(): Promise<Codespace[] | undefined>;
  listNodes(): Promise<NodeRecord[] | undefined>;
  /** Nodes in service now, with their data dirs (the KV file lives there). */
  liveNodes(): Promise<readonly { name: string; dataDir: string }[]>;
}

export interface Acknowledged {
  readonly uid: string;
  readonly spec: CodespaceSpec;
}

export class InvariantMonitor {
  readonly violations: string[] = [];
  checks = 0;
  samples = 0;
  readonly sampleErrors: string[] = [];
  /** Set while a control-plane-only fault is on: sessions must keep flowing. */
  sessionsMustFlow = false;
  private readonly acknowledged = new Map<string, Acknowledged>();
  private readonly sessions: LiveSession[] = [];
  private readonly sessionFailuresSeen = new Map<LiveSession, number>();
  private readonly sequences = new Map<string, { bootId: string; sequence: number }>();
  private readonly portMismatchSince = new Map<string, { sinceMs: number; detail: string }>();
  private stopped = true;
  private loop: Promise<void> | undefined;

  constructor(private readonly sources: MonitorSources) {}

  /** A create the API acknowledged (201): from now on it must never be lost. */
  acknowledge(codespace: Codespace): void {
    this.acknowledged.set(codespace.metadata.name, { uid: codespace.metadata.uid, spec: codespace.spec });
  }

  /** A delete the API acknowledged: the codespace may disappear. */
  forget(name: string): void {
    this.acknowledged.delete(name);
  }

  acknowledgedNames(): string[] {
    return [...this.acknowledged.keys()].sort();
  }

  watchSession(session: LiveSession): void {
    this.sessions.push(session);
    this.sessionFailuresSeen.set(session, session.failures.length);
  }

  unwatchSession(session: LiveSession): void {
    const index = this.sessions.indexOf(session);
    if (index >= 0) this.sessions.splice(index, 1);
  }

  violate(message: string): void {
    this.violations.push(`${new Date().toISOString()} ${message}`);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        const startedMs = Date.now();
        await this.sampleOnce().catch((error: unknown) => this.sampleErrors.push(String(error)));
        await sleep(Math.max(0, invariantSampleIntervalMs - (Date.now() - startedMs)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Throws a readable error listing every violation so far. */
  assertClean(context = ''): void {
    if (this.violations.length === 0) return;
    throw new Error(
      `invariant violations${context ? ` (${context})` : ''}:\n  ${this.violations.slice(0, 20).join('\n  ')}`,
    );
  }

  async dockerContainers(): Promise<ObservedDockerContainer[]> {
    const all: ObservedDockerContainer[] = [];
    for (const docker of this.sources.dockerEngines()) {
      const listed = await docker.listContainers({
        all: true,
        filters: { label: [`${labelKeys.managed}=true`] },
      });
      for (const c of listed) {
        const node = c.Labels[labelKeys.node] ?? '';
        if (!node.startsWith(this.sources.nodePrefix)) continue;
        const port = Number(c.Labels[labelKeys.hostPort]);
        all.push({
          uid: c.Labels[labelKeys.uid] ?? '',
          name: c.Labels[labelKeys.name] ?? '',
          node,
          state: c.State,
          hostPort: Number.isInteger(port) ? port : undefined,
        });
      }
    }
    return all;
  }

  async sampleOnce(): Promise<void> {
    // Only creates acknowledged before the list was asked for can be expected in it (a create
    // acknowledged while the list is in flight may be missing from it without being lost).
    const acknowledgedBeforeList = new Map(this.acknowledged);
    const [containers, codespaces, nodes, live] = await Promise.all([
      this.dockerContainers(),
      this.sources.listCodespaces().catch(() => undefined),
      this.sources.listNodes().catch(() => undefined),
      this.sources.liveNodes(),
    ]);
    this.samples += 1;
    this.checkOneRunningContainer(containers);
    if (codespaces !== undefined) this.checkNoSpecLost(codespaces, acknowledgedBeforeList);
    if (nodes !== undefined) this.checkSequences(nodes);
    await this.checkPorts(containers, live);
    this.checkSessions();
  }

  private checkOneRunningContainer(containers: readonly ObservedDockerContainer[]): void {
    const running = new Map<string, string[]>();
    for (const c of containers) {
      if (c.state !== 'running') continue;
      running.set(c.uid, [...(running.get(c.uid) ?? []), c.node]);
    }
    for (const [uid, nodes] of running) {
      this.checks += 1;
      if (nodes.length > 1)
        this.violate(`codespace uid ${uid} runs ${nodes.length} containers, on ${nodes.join(', ')}`);
    }
  }

  private checkNoSpecLost(
    codespaces: readonly Codespace[],
    acknowledgedBeforeList: ReadonlyMap<string, Acknowledged>,
  ): void {
    const byName = new Map(codespaces.map((c) => [c.metadata.name, c]));
    for (const [name, expected] of acknowledgedBeforeList) {
      // Deleted (acknowledged) or re-created while the list was in flight: the next sample judges it.
      if (this.acknowledged.get(name) !== expected) continue;
      this.checks += 1;
      const found = byName.get(name);
      if (found === undefined) {
        this.violate(`acknowledged codespace ${name} (uid ${expected.uid}) is no longer listed`);
        continue;
      }
      if (found.metadata.uid !== expected.uid) {
        this.violate(`codespace ${name} has uid ${found.metadata.uid}, acknowledged as ${expected.uid}`);
      }
      const { running: _a, ...want } = expected.spec;
      const { running: _b, ...have } = found.spec;
      if (JSON.stringify(sorted(want)) !== JSON.stringify(sorted(have))) {
        this.violate(`codespace ${name} spec changed: ${JSON.stringify(have)} != ${JSON.stringify(want)}`);
      }
    }
  }

  private checkSequences(nodes: readonly NodeRecord[]): void {
    for (const node of nodes) {
      this.checks += 1;
      const last = this.sequences.get(node.name);
      if (last !== undefined && last.bootId === node.bootId && node.sequence < last.sequence) {
        this.violate(
          `node ${node.name} observed state moved backwards: sequence ${last.sequence} → ${node.sequence} (boot ${node.bootId})`,
        );
      }
      if (last === undefined || last.bootId !== node.bootId || node.sequence > last.sequence) {
        this.sequences.set(node.name, { bootId: node.bootId, sequence: node.sequence });
      }
    }
  }

  private async checkPorts(
    containers: readonly ObservedDockerContainer[],
    live: readonly { name: string; dataDir: string }[],
  ): Promise<void> {
    const nowMs = Date.now();
    const seen = new Set<string>();
    for (const node of live) {
      const text = await readFile(join(node.dataDir, localKvFileName), 'utf8').catch(() => undefined);
      const kv = text === undefined ? undefined : parseLocalKv(text);
      if (kv === undefined) continue;
      this.checks += 1;
      seen.add(node.name);
      const problems: string[] = [];
      const kvPorts = new Map<string, number>();
      for (const entry of Object.values(kv.codespaces)) {
        if (entry.state === 'running' && entry.hostPort !== undefined) kvPorts.set(entry.uid, entry.hostPort);
      }
      const dockerPorts = new Map<string, number | undefined>();
      for (const c of containers)
        if (c.node === node.name && c.state === 'running') dockerPorts.set(c.uid, c.hostPort);
      for (const [uid, port] of dockerPorts) {
        if (kvPorts.get(uid) !== port)
          problems.push(`container ${uid} on port ${port}, KV says ${kvPorts.get(uid)}`);
      }
      for (const [uid, port] of kvPorts) {
        if (!dockerPorts.has(uid)) problems.push(`KV holds port ${port} for ${uid}, which runs no container`);
      }
      const ports = [...kvPorts.values()];
      if (new Set(ports).size !== ports.length) problems.push(`a port held twice: ${ports.join(',')}`);
      if (problems.length === 0) {
        this.portMismatchSince.delete(node.name);
        continue;
      }
      const since = this.portMismatchSince.get(node.name)?.sinceMs ?? nowMs;
      this.portMismatchSince.set(node.name, { sinceMs: since, detail: problems.join('; ') });
      if (nowMs - since >= portMismatchGraceMs) {
        this.violate(
          `node ${node.name} ports and containers disagree for ${nowMs - since} ms: ${problems.join('; ')}`,
        );
        this.portMismatchSince.delete(node.name);
      }
    }
    for (const name of this.portMismatchSince.keys())
      if (!seen.has(name)) this.portMismatchSince.delete(name);
  }

  private checkSessions(): void {
    for (const session of this.sessions) {
      this.checks += 1;
      const seen = this.sessionFailuresSeen.get(session) ?? 0;
      const fresh = session.failures.slice(seen);
      this.sessionFailuresSeen.set(session, session.failures.length);
      if (this.sessionsMustFlow && fresh.length > 0) {
        this.violate(
          `session to ${session.codespace} broke during a control-plane-only fault: ${fresh[0]!.what}`,
        );
      }
    }
  }

  /**
   * Waits until every acknowledged codespace is in its desired phase (Running with exactly one
   * running container, on its status node; or Stopped with none), with its generation observed.
   * Returns the milliseconds from `faultEndedAtMs`; throws past `convergenceBoundMs` (or `timeoutMs`).
   */
  async converged(options: { faultEndedAtMs: number; timeoutMs?: number }): Promise<number> {
    const deadlineMs = options.faultEndedAtMs + (options.timeoutMs ?? convergenceBoundMs);
    let last = 'nothing sampled';
    for (;;) {
      const gap = await this.convergenceGap().catch((error: unknown) => `sample failed: ${String(error)}`);
      if (gap === undefined) return Date.now() - options.faultEndedAtMs;
      last = gap;
      if (Date.now() > deadlineMs) {
        throw new Error(
          `not converged within ${deadlineMs - options.faultEndedAtMs} ms of the fault's end: ${last}`,
        );
      }
      await sleep(convergencePollIntervalMs);
    }
  }

  /** What still differs from the desired state, or undefined when converged. */
  async convergenceGap(): Promise<string | undefined> {
    const codespaces = await this.sources.listCodespaces();
    if (codespaces === undefined) return 'API unavailable';
    const containers = await this.dockerContainers();
    const byName = new Map(codespaces.map((c) => [c.metadata.name, c]));
    for (const name of this.acknowledged.keys()) {
      const codespace = byName.get(name);
      if (codespace === undefined) return `${name} not listed`;
      const running = containers.filter((c) => c.uid === codespace.metadata.uid && c.state === 'running');
      const wantPhase = codespace.spec.running ? 'Running' : 'Stopped';
      if (codespace.status.phase !== wantPhase) {
        const why = codespace.status.conditions.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);
        return `${name} is ${codespace.status.phase}, wants ${wantPhase} (${why.join('; ')})`;
      }
      if (codespace.status.observedGeneration !== codespace.metadata.generation) {
        return `${name} observed generation ${codespace.status.observedGeneration} of ${codespace.metadata.generation}`;
      }
      if (codespace.spec.running) {
        if (running.length !== 1 || running[0]!.node !== codespace.status.nodeName) {
          return `${name} has ${running.length} running containers (${running.map((c) => c.node).join(',')}), status node ${codespace.status.nodeName}`;
        }
      } else if (running.length !== 0) {
        return `${name} is Stopped but ${running.length} containers run`;
      }
    }
    return undefined;
  }
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, sorted(v)]),
  );
}
