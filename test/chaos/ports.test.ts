/**
 * Chaos: the port pool exhausted, and the agent killed -9 right after a port allocation. A real
 * agent on Docker with a pool exactly as large as its container limit. Crashes: the agent's own
 * `after-port-allocation` fault point (SIGKILL itself right after taking the port, before the KV
 * write), and kill -9 by pid the moment Docker reports the new container created (port allocated,
 * KV written, container not yet started) or started (before the agent recorded it). After each
 * restart: no leaked port —
 * ports and running containers one to one — and the pool accepts starts up to its size again.
 * Invariants are sampled continuously throughout.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { startBeatingNode, waitFor, type BeatingNode } from './support/heartbeat-node-harness.js';
import { SamplingLoop } from './support/sampling-loop.js';

requireDockerAndImage();

const poolStartPort = 18_140;
/** Pool and container limit are equal: every port is a slot, so a leaked port is a lost slot. */
const poolSize = 4;
const idleTimeoutSeconds = 14_400;
const sampleIntervalMs = 250;
const convergenceBoundMs = 30_000;
const restartSettleTimeoutMs = 30_000;
/** Within the convergence bound: an adoption waits for the agent's next refresh. */
const oneToOneTimeoutMs = 15_000;

const uidOf = (i: number) => `port${i}-${process.pid}`;
const nameOf = (i: number) => `port${i}`;

/** Ports ↔ containers, checked on Docker (truth) and on the KV document the agent writes. */
class PortInvariantMonitor {
  readonly violations: string[] = [];
  checks = 0;
  private readonly loop = new SamplingLoop({ intervalMs: sampleIntervalMs, sample: () => this.sampleOnce() });

  constructor(private readonly node: BeatingNode) {}

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async sampleOnce(): Promise<void> {
    this.checks += 1;
    const running = (await this.node.dockerView()).filter((c) => c.state === 'running');
    const ports = running.map((c) => c.hostPort);
    if (new Set(ports).size !== ports.length)
      this.violations.push(`two running containers share a port: ${ports}`);
    if (running.length > poolSize)
      this.violations.push(`${running.length} running containers on a pool of ${poolSize}`);
    for (const port of ports) {
      if (port < poolStartPort || port >= poolStartPort + poolSize)
        this.violations.push(`running container on port ${port}, outside the pool`);
    }
    const doc = this.node.readKv();
    if (!doc) return;
    const held = Object.values(doc.codespaces)
      .map((e) => e.hostPort)
      .filter((p): p is number => p !== undefined);
    if (new Set(held).size !== held.length)
      this.violations.push(`KV gives one port to two codespaces: ${held}`);
    const doubly = held.filter((p) => doc.freePorts.includes(p));
    if (doubly.length > 0) this.violations.push(`KV lists ports both held and free: ${doubly}`);
  }
}

/**
 * Each running container holds its port in the KV, every other port is free. Waited for, not
 * sampled once: a start the dead agent had already sent to Docker may complete after the new
 * agent rebuilt its state, and is adopted at its next refresh (within a heartbeat).
 */
async function expectOneToOne(node: BeatingNode): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const running = (await node.dockerView()).filter((c) => c.state === 'running');
      const doc = node.readKv();
      if (!doc) return false;
      const kvRunning = Object.values(doc.codespaces).filter((e) => e.state === 'running');
      const kvSide = kvRunning.map((e) => `${e.uid}:${e.hostPort}`).sort();
      const dockerSide = running.map((c) => `${c.uid}:${c.hostPort}`).sort();
      last = `KV ${kvSide} docker ${dockerSide} free ${doc.freePorts}`;
      return (
        JSON.stringify(kvSide) === JSON.stringify(dockerSide) &&
        doc.freePorts.length + running.length === poolSize
      );
    },
    { timeoutMs: oneToOneTimeoutMs, message: 'ports and containers never one to one', details: () => last },
  );
}

let node: BeatingNode;
let monitor: PortInvariantMonitor;
beforeAll(async () => {
  node = await startBeatingNode({
    label: 'ports',
    portRange: { start: poolStartPort, end: poolStartPort + poolSize - 1 },
    maxContainers: poolSize,
    idleMsPerSecond: 1000,
    idleCheckIntervalMs: 1_000,
    heartbeatIntervalMs: 1_000,
    withProxy: false,
  });
  monitor = new PortInvariantMonitor(node);
  monitor.start();
});
afterAll(async () => {
  await monitor?.stop();
  await node?.close();
});

const ensure = (i: number, generation = 1) =>
  node.command('PUT', `/v1/codespaces/${uidOf(i)}`, {
    body: node.ensureBody(nameOf(i), generation, idleTimeoutSeconds),
  });

describe('chaos: port pool exhausted, and a crash right after a port allocation', () => {
  it(
    'refuses a start beyond the pool with NODE_FULL and keeps ports one to one',
    { timeout: 120_000 },
    async () => {
      for (let i = 0; i < poolSize; i += 1) {
        const started = await ensure(i);
        expect(started.status, JSON.stringify(started.body)).toBe(200);
      }
      const refused = await ensure(poolSize);
      expect(refused.status).toBe(507);
      expect(refused.body.code).toBe('NODE_FULL');
      await waitFor(() => node.readKv()?.freePorts.length === 0, {
        timeoutMs: 10_000,
        message: 'the KV never showed the pool full',
      });
      await expectOneToOne(node);
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
    },
  );

  it(
    'leaks no port when the agent crashes at its after-port-allocation fault point',
    { timeout: 180_000 },
    async () => {
      const onceDir = mkdtempSync(join(tmpdir(), 'codeyard-chaos-ports-once-'));
      try {
        const victim = 2;
        expect((await node.command('DELETE', `/v1/codespaces/${uidOf(victim)}`)).status).toBe(200);
        // Restarted armed: the next port allocation kills the agent (once, across restarts).
        await node.kill9Agent();
        await node.restartAgent({
          extraEnv: {
            CODEYARD_FAULT_POINTS: 'after-port-allocation',
            CODEYARD_FAULT_POINTS_ONCE_DIR: onceDir,
          },
        });
        const newcomer = poolSize + 3;
        const interrupted = await ensure(newcomer).then(
          (answer) => `answered ${answer.status}`,
          (error: unknown) => `cut off (${String(error)})`,
        );
        expect(interrupted).toMatch(/^cut off/);
        await node.kill9Agent(); // already dead: waits for its exit
        expect(existsSync(join(onceDir, 'after-port-allocation'))).toBe(true);
        const restartedAtMs = Date.now();
        await node.restartAgent();
        await expectOneToOne(node);
        expect((await node.dockerView()).some((c) => c.uid === uidOf(newcomer))).toBe(false);
        const resent = await ensure(newcomer);
        expect(resent.status, JSON.stringify(resent.body)).toBe(200);
        const convergedInMs = Date.now() - restartedAtMs;
        expect((await ensure(poolSize + 2)).status).toBe(507);
        await waitFor(() => node.readKv()?.freePorts.length === 0, {
          timeoutMs: 10_000,
          message: 'the KV never showed the pool full again',
        });
        await expectOneToOne(node);
        await monitor.sampleOnce();
        expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
        expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
        console.info(
          `chaos-result ports-fault-after-port-allocation converged-in-ms=${convergedInMs} checks=${monitor.checks}`,
        );
      } finally {
        rmSync(onceDir, { recursive: true, force: true });
      }
    },
  );

  for (const action of ['create', 'start'] as const) {
    it(
      `leaks no port when the agent is killed -9 at container ${action}, and fills the pool again after restart`,
      { timeout: 180_000 },
      async () => {
        // Make one slot free, then crash the start that takes it.
        const victim = action === 'create' ? 0 : 1;
        expect((await node.command('DELETE', `/v1/codespaces/${uidOf(victim)}`)).status).toBe(200);
        const newcomer = action === 'create' ? poolSize : poolSize + 1;
        const { crashed } = await node.crashAgentOnContainerEvent(action, uidOf(newcomer));
        const interrupted = ensure(newcomer).then(
          (answer) => `answered ${answer.status}`,
          (error: unknown) => `cut off (${String(error)})`,
        );
        await crashed;
        // The command may or may not have been answered before the kill; either way it is resent.
        await interrupted;
        const restartedAtMs = Date.now();
        await node.restartAgent();
        await waitFor(
          async () => {
            const doc = node.readKv();
            if (!doc) return false;
            const running = (await node.dockerView()).filter((c) => c.state === 'running');
            return doc.freePorts.length + running.length === poolSize;
          },
          {
            timeoutMs: restartSettleTimeoutMs,
            message: `after the ${action} crash the pool never accounted for every port`,
            details: async () =>
              `docker ${JSON.stringify(await node.dockerView())} kv ${JSON.stringify(node.readKv())}`,
          },
        );
        await expectOneToOne(node);
        // The orchestrator resends the start; the pool takes it and is full again, not over-full.
        const resent = await ensure(newcomer);
        expect(resent.status, JSON.stringify(resent.body)).toBe(200);
        const convergedInMs = Date.now() - restartedAtMs;
        const overflow = await ensure(poolSize + 2);
        expect(overflow.status).toBe(507);
        await waitFor(() => node.readKv()?.freePorts.length === 0, {
          timeoutMs: 10_000,
          message: 'the KV never showed the pool full again',
        });
        await expectOneToOne(node);
        const containersOf = (await node.dockerView()).filter((c) => c.uid === uidOf(newcomer));
        expect(containersOf).toHaveLength(1);
        await monitor.sampleOnce();
        expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
        expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
        console.info(
          `chaos-result ports-crash-after-${action} converged-in-ms=${convergedInMs} checks=${monitor.checks}`,
        );
      },
    );
  }
});
