/**
 * Chaos: the control plane down for minutes. A real orchestrator on Redis and a real node (agent
 * + proxy on Docker). Two codespaces run; a session through the node proxy keeps one busy. The
 * orchestrator is killed -9 and stays down for `controlPlaneDownMs` (60 s; `CHAOS_LONG=1`: 3 min).
 * Meanwhile the open session keeps flowing (every request answered by the workspace) and the
 * other codespace, left alone, is stopped by its node's idle monitor. When the orchestrator
 * returns, everything converges: the idle stop becomes `running: false` with reason Idle (not
 * restarted), the busy codespace stays Running in the same container.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { ProxySession, waitFor } from '../support/e2e-api.js';
import { startHeartbeatCluster, type HeartbeatCluster } from './support/heartbeat-cluster.js';
import { dockerViewOf } from './support/heartbeat-node-harness.js';
import { SessionPinger } from './support/heartbeat-session-pinger.js';

requireDockerAndImage();

/** How long the control plane stays down: one minute in CI, three with CHAOS_LONG=1. */
const controlPlaneDownMs = process.env.CHAOS_LONG === '1' ? 180_000 : 60_000;
/** 20 ms per idle "second": 600 s → 12 s idle, 14 400 s → 288 s (longer than any outage here). */
const idleMsPerSecond = 20;
const sleepyIdleSeconds = 600;
const busyIdleSeconds = 14_400;
const phaseTimeoutMs = 90_000;
const convergenceBoundMs = 30_000;

let cluster: HeartbeatCluster;
beforeAll(async () => {
  cluster = await startHeartbeatCluster({
    label: 'cpdown',
    nodes: [
      {
        label: 'cpdown',
        portRange: { start: 18_190, end: 18_193 },
        withProxy: true,
        agentEnv: {
          CODEYARD_IDLE_MS_PER_SECOND: String(idleMsPerSecond),
          CODEYARD_IDLE_CHECK_INTERVAL_MS: '500',
        },
      },
    ],
  });
});
afterAll(() => cluster?.close());

describe('chaos: the control plane down for minutes', () => {
  it(
    'keeps open sessions flowing and idle stops happening on the node, then converges without restarting',
    { timeout: controlPlaneDownMs + 240_000 },
    async () => {
      const node = cluster.nodes[0]!;
      const busy = await cluster.admin.create('busy', { running: true, idleTimeoutSeconds: busyIdleSeconds });
      const sleepy = await cluster.admin.create('sleepy', {
        running: true,
        idleTimeoutSeconds: sleepyIdleSeconds,
      });
      for (const name of ['busy', 'sleepy']) {
        await waitFor(
          `${name} Running`,
          async () => ((await cluster.admin.mustGet(name)).status.phase === 'Running' ? true : undefined),
          { timeoutMs: phaseTimeoutMs },
        );
      }
      const busySession = await ProxySession.open(await cluster.admin.access('busy'));
      const sleepySession = await ProxySession.open(await cluster.admin.access('sleepy'));
      expect((await sleepySession.fetch('/healthz')).status).toBe(200);
      const busyPinger = new SessionPinger('busy', busySession);
      busyPinger.start();
      const busyContainer = (await dockerViewOf(node.name)).find((c) => c.uid === busy.metadata.uid)!;
      try {
        // Down: the last touch of `sleepy` is just before, so its idle stop falls inside the outage.
        expect((await sleepySession.fetch('/healthz')).status).toBe(200);
        await cluster.killOrchestrator();
        const downAtMs = Date.now();
        const idleStoppedAtMs = await waitFor(
          'the node to stop the idle codespace while the control plane is down',
          async () => {
            const container = (await dockerViewOf(node.name)).find((c) => c.uid === sleepy.metadata.uid);
            return container?.state === 'exited' ? Date.now() : undefined;
          },
          { timeoutMs: controlPlaneDownMs, intervalMs: 500 },
        );
        expect(idleStoppedAtMs - downAtMs).toBeLessThan(controlPlaneDownMs);
        await sleep(Math.max(0, downAtMs + controlPlaneDownMs - Date.now()));
        expect(busyPinger.failures, JSON.stringify(busyPinger.failures)).toEqual([]);

        await cluster.restartOrchestrator();
        const backAtMs = Date.now();
        await waitFor(
          'the idle stop recorded as running: false, reason Idle, and busy still Running',
          async () => {
            const [s, b] = await Promise.all([
              cluster.admin.mustGet('sleepy'),
              cluster.admin.mustGet('busy'),
            ]);
            return !s.spec.running &&
              s.status.phase === 'Stopped' &&
              s.status.stopReason === 'Idle' &&
              b.status.phase === 'Running'
              ? true
              : undefined;
          },
          {
            timeoutMs: convergenceBoundMs,
            intervalMs: 250,
            describe: async () => JSON.stringify((await cluster.admin.list()).map((c) => [c.spec, c.status])),
          },
        );
        const convergedInMs = Date.now() - backAtMs;
        // Not restarted: the idle codespace stays stopped; the busy one keeps its container.
        await sleep(3_000);
        const containers = await dockerViewOf(node.name);
        expect(containers.find((c) => c.uid === sleepy.metadata.uid)?.state).toBe('exited');
        expect(containers.find((c) => c.uid === busy.metadata.uid)).toMatchObject({
          id: busyContainer.id,
          state: 'running',
        });
        expect((await cluster.admin.mustGet('sleepy')).status.phase).toBe('Stopped');
        expect(busyPinger.failures, JSON.stringify(busyPinger.failures)).toEqual([]);
        expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
        console.info(
          `chaos-result control-plane-down converged-in-ms=${convergedInMs} checks=${busyPinger.answered} ` +
            `down-ms=${controlPlaneDownMs} idle-stop-after-ms=${idleStoppedAtMs - downAtMs}`,
        );
      } finally {
        await busyPinger.stop();
      }
    },
  );
});
