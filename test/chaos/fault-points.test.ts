/**
 * Chaos: crashes at named fault points, and kill -9 of an agent in the middle of a start. Two
 * real orchestrator replicas on one AOF Redis and two real nodes on Docker; the invariant monitor
 * samples throughout. Each crash is a real SIGKILL of the process at that exact point
 * (`CODEYARD_FAULT_POINTS`, see src/fault-points): no cleanup, no flush.
 *
 * Reconciler (the leader crashes, the other replica takes over once the lease runs out):
 *   after-placement-write  the placement is in Redis, no command has gone to the node;
 *   before-agent-call      the leader passed its epoch check and is about to command the node.
 * Node agent (its supervisor restarts it; it rebuilds its KV and port pool from Docker labels):
 *   after-port-allocation  a host port is taken in memory, nothing written;
 *   after-kv-write         the KV holds the port for a container that does not exist yet;
 *   after-container-create the container exists (created, not started).
 *   agent-kill9-mid-start  kill -9 by pid the moment Docker shows the new container.
 * After each: the codespace runs in exactly one container, nothing is duplicated, and no host port
 * is leaked (the KV's free ports are the whole pool minus the running containers' ports).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKvFileName, parseLocalKv } from '../../src/node-agent/local-kv-format.js';
import type { ApiClient } from '../support/e2e-api.js';
import type { OrchestratorProcess } from '../support/e2e-orchestrator-process.js';
import {
  reportChaosResult,
  startChaosCluster,
  waitUntil,
  type ChaosCluster,
} from './support/chaos-cluster.js';
import { convergenceBoundMs } from './support/invariants.js';

const nodeCount = 2;
const scenarioTimeoutMs = 120_000;
const phaseTimeoutMs = 60_000;
const agentBackTimeoutMs = 45_000;

let cluster: ChaosCluster;
let dave: ApiClient;
const onceDirs: string[] = [];

beforeAll(async () => {
  cluster = await startChaosCluster({ label: 'faults', nodes: nodeCount });
  await cluster.waitForNodes(nodeCount);
  dave = await cluster.clientFor('dave');
}, scenarioTimeoutMs);

afterAll(async () => {
  await cluster?.close();
  for (const dir of onceDirs) rmSync(dir, { recursive: true, force: true });
});

function logOf(replica: OrchestratorProcess): string {
  return readFileSync(replica.logPath, 'utf8');
}

function tookLease(replica: OrchestratorProcess, epoch: number): boolean {
  return logOf(replica)
    .split('\n')
    .some((line) => line.includes('"became reconciler leader"') && line.includes(`"epoch":${epoch},`));
}

/** The follower restarted with `faultPoints` armed becomes the leader; the old leader comes back as follower. */
async function armLeader(
  faultPoints: string,
): Promise<{ armed: OrchestratorProcess; follower: OrchestratorProcess }> {
  const current = await cluster.leader();
  const leaderIndex = cluster.replicas.indexOf(current);
  const armed = await cluster.restartReplica(leaderIndex === 0 ? 1 : 0, {
    CODEYARD_FAULT_POINTS: faultPoints,
  });
  await current.stop();
  await waitUntil(
    'the armed replica to lead',
    async () => {
      const lease = await cluster.lease();
      return lease !== undefined && tookLease(armed, lease.epoch) ? true : undefined;
    },
    phaseTimeoutMs,
  );
  const follower = await cluster.restartReplica(leaderIndex);
  return { armed, follower };
}

/** Arms every node's agent with one fault point (firing once across them) and restarts the agents with it. */
async function armAgents(point: string): Promise<string> {
  const onceDir = mkdtempSync(join(tmpdir(), `codeyard-chaos-once-${point}-`));
  onceDirs.push(onceDir);
  for (const node of cluster.nodes()) {
    node.setAgentEnv({ CODEYARD_FAULT_POINTS: point, CODEYARD_FAULT_POINTS_ONCE_DIR: onceDir });
    const pid = node.agentPid();
    await node.kill9Agent();
    await node.agentBackAfter(pid, agentBackTimeoutMs);
  }
  // The restart itself is an agent crash: let the cluster settle before the scenario's own fault.
  await cluster.monitor.converged({ faultEndedAtMs: Date.now() });
  return onceDir;
}

async function disarmAgents(): Promise<void> {
  for (const node of cluster.nodes())
    node.setAgentEnv({ CODEYARD_FAULT_POINTS: '', CODEYARD_FAULT_POINTS_ONCE_DIR: '' });
}

/** Ports held in the node's KV (the pool minus its free ports) are exactly its running containers' ports. */
async function assertNoLeakedPorts(): Promise<void> {
  const containers = await cluster.monitor.dockerContainers();
  for (const node of cluster.nodes()) {
    // An agent writes its KV at its first change: a node that never ran anything has none, and holds no port.
    const text = await readFile(join(node.spec.dataDir, localKvFileName), 'utf8').catch(() => undefined);
    const kv = text === undefined ? undefined : parseLocalKv(text);
    if (text !== undefined) expect(kv, `KV of ${node.name}`).toBeDefined();
    const { start, end } = node.spec.containerPortRange;
    const free = new Set(kv?.freePorts ?? []);
    if (kv === undefined) for (let port = start; port <= end; port += 1) free.add(port);
    const held = [];
    for (let port = start; port <= end; port += 1) if (!free.has(port)) held.push(port);
    const running = containers
      .filter((c) => c.node === node.name && c.state === 'running')
      .map((c) => c.hostPort)
      .sort((a, b) => a! - b!);
    expect(held, `held ports of ${node.name}`).toEqual(running);
    // Nothing else of this node's lingers in Docker: no created-but-never-started duplicate.
    expect(containers.filter((c) => c.node === node.name && c.state !== 'running')).toEqual([]);
  }
}

async function convergedAfter(scenario: string, faultEndedAtMs: number): Promise<void> {
  const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
  expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
  await assertNoLeakedPorts();
  cluster.monitor.assertClean(scenario);
  reportChaosResult(scenario, { convergedInMs, checks: cluster.monitor.checks });
}

describe('chaos: crashes at fault points', () => {
  it.each(['after-placement-write', 'before-agent-call'])(
    'crash-%s: the leader dies at the point; the other replica finishes the start, one container',
    async (point) => {
      const { armed, follower } = await armLeader(point);
      const name = `fp-${point.split('-')[0]}-${point.split('-').at(-1)}`;
      await cluster.create(await cluster.clientFor('dave', { via: follower }), name);
      await waitUntil(
        'the leader to crash at its fault point',
        async () => (armed.hasExited() ? true : undefined),
        phaseTimeoutMs,
        50,
      );
      const faultEndedAtMs = Date.now();
      expect(logOf(armed)).toContain(`fault point ${point}: crash`);
      await convergedAfter(`crash-${point}`, faultEndedAtMs);
      // Back to two replicas.
      await cluster.restartReplica(cluster.replicas.indexOf(armed));
    },
    scenarioTimeoutMs,
  );

  it.each(['after-port-allocation', 'after-kv-write', 'after-container-create'])(
    'crash-%s: the agent dies at the point and restarts; no duplicate container, no leaked port',
    async (point) => {
      const onceDir = await armAgents(point);
      const name = `fp-${point.split('-').at(-1)}`;
      await cluster.create(dave, name);
      const fired = await waitUntil(
        'an agent to crash at its fault point',
        async () => {
          try {
            return Number(readFileSync(join(onceDir, point), 'utf8').trim());
          } catch {
            return undefined;
          }
        },
        phaseTimeoutMs,
        50,
      );
      const crashed = cluster.nodes().find((n) => n.agentPid() === fired) ?? cluster.nodes()[0]!;
      const back = await crashed.agentBackAfter(fired, agentBackTimeoutMs).catch(() => undefined);
      expect(back === undefined || back !== fired).toBe(true);
      const faultEndedAtMs = Date.now();
      await disarmAgents();
      await convergedAfter(`crash-${point}`, faultEndedAtMs);
    },
    scenarioTimeoutMs,
  );

  it(
    'agent-kill9-mid-start: kill -9 the agent the moment its new container appears; it restarts and the start completes once',
    async () => {
      await cluster.create(dave, 'fp-midstart');
      const container = await waitUntil(
        'the new container to appear',
        async () => (await cluster.monitor.dockerContainers()).find((c) => c.name === 'fp-midstart'),
        phaseTimeoutMs,
        20,
      );
      const node = cluster.node(container.node);
      const pid = node.agentPid();
      await node.kill9Agent();
      const faultEndedAtMs = Date.now();
      console.info(`agent-kill9-mid-start: killed agent ${pid} with the container ${container.state}`);
      await node.agentBackAfter(pid, agentBackTimeoutMs);
      await convergedAfter('agent-kill9-mid-start', faultEndedAtMs);
    },
    scenarioTimeoutMs,
  );
});
