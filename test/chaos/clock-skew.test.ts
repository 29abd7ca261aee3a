/**
 * Chaos: clock skew between nodes and the orchestrator. Two real agents run with their clocks
 * offset by minutes in opposite directions (CODEYARD_CLOCK_OFFSET_MS), and the orchestrator with
 * an offset of its own. Beat age is judged on the orchestrator's own clock, from when it received
 * a beat, so: no premature NotReady while beats arrive, and no missed one when they stop (the
 * relay cuts them while the agents keep running). After the cut heals both are Ready again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { waitFor } from '../support/e2e-api.js';
import {
  chaosHeartbeatIntervalMs,
  chaosNodeNotReadyAfterMs,
  isReady,
  startHeartbeatCluster,
  type HeartbeatCluster,
} from './support/heartbeat-cluster.js';
import { ObservedStateMonitor } from './support/heartbeat-monitor.js';

requireDockerAndImage();

const minuteMs = 60_000;
const nodeAheadOffsetMs = 5 * minuteMs;
const nodeBehindOffsetMs = -5 * minuteMs;
const orchestratorOffsetMs = 90_000;
/** How long the skewed nodes must stay Ready while beating: several NotReady thresholds. */
const steadyWatchMs = 2 * chaosNodeNotReadyAfterMs;
const notReadyTimeoutMs = chaosNodeNotReadyAfterMs + 30_000;
const convergenceBoundMs = 30_000;

let cluster: HeartbeatCluster;
let monitor: ObservedStateMonitor;
beforeAll(async () => {
  cluster = await startHeartbeatCluster({
    label: 'clock',
    orchestratorEnv: { CODEYARD_CLOCK_OFFSET_MS: String(orchestratorOffsetMs) },
    nodes: [
      { label: 'ahead', portRange: { start: 18_170, end: 18_173 }, clockOffsetMs: nodeAheadOffsetMs },
      { label: 'behind', portRange: { start: 18_180, end: 18_183 }, clockOffsetMs: nodeBehindOffsetMs },
    ],
  });
  monitor = new ObservedStateMonitor(cluster);
  monitor.start();
});
afterAll(async () => {
  await monitor?.stop();
  await cluster?.close();
});

describe('chaos: clock skew between nodes and the orchestrator', () => {
  it(
    'judges beat age on the orchestrator clock: no premature NotReady, no missed one, Ready again after',
    { timeout: 180_000 },
    async () => {
      const names = cluster.nodes.map((n) => n.name);
      await waitFor(
        'both skewed nodes Ready',
        async () => {
          const records = await Promise.all(names.map((name) => cluster.node(name)));
          return records.every(isReady) ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
      // The skew is real: each node stamps its beats with its own clock.
      const ahead = cluster.nodes[0]!.relay.captured.at(-1)!.beat;
      expect(Date.parse(ahead.sentAt) - Date.now()).toBeGreaterThan(nodeAheadOffsetMs - minuteMs);
      const behind = cluster.nodes[1]!.relay.captured.at(-1)!.beat;
      expect(Date.now() - Date.parse(behind.sentAt)).toBeGreaterThan(-nodeBehindOffsetMs - minuteMs);

      for (const name of names) monitor.mustStayReady.add(name);
      await sleep(steadyWatchMs);
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);

      // Cut both nodes' beats; the agents keep running and keep trying.
      for (const name of names) monitor.mustStayReady.delete(name);
      for (const node of cluster.nodes) node.relay.cut = true;
      const notReadyAfterMs = await Promise.all(
        cluster.nodes.map(async (node) => {
          const seenNotReadyAtMs = await waitFor(
            `${node.name} NotReady after its beats stopped`,
            async () => (isReady(await cluster.node(node.name)) ? undefined : Date.now()),
            { timeoutMs: notReadyTimeoutMs, intervalMs: 250 },
          );
          // The orchestrator cannot have received the last beat before the relay began forwarding it.
          return seenNotReadyAtMs - node.relay.captured.at(-1)!.forwardedAtMs;
        }),
      );
      // Not premature either: judged from the last beat received, never from the node's timestamps.
      for (const silentMs of notReadyAfterMs) expect(silentMs).toBeGreaterThan(chaosNodeNotReadyAfterMs);

      for (const node of cluster.nodes) node.relay.cut = false;
      const healedAtMs = Date.now();
      await waitFor(
        'both nodes Ready again',
        async () => {
          const records = await Promise.all(names.map((name) => cluster.node(name)));
          return records.every(isReady) ? true : undefined;
        },
        { timeoutMs: convergenceBoundMs, intervalMs: 250 },
      );
      const convergedInMs = Date.now() - healedAtMs;
      for (const name of names) monitor.mustStayReady.add(name);
      await sleep(3 * chaosHeartbeatIntervalMs);
      await monitor.sampleOnce();
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      console.info(
        `chaos-result clock-skew converged-in-ms=${convergedInMs} checks=${monitor.checks} ` +
          `silent-ms-at-not-ready=${notReadyAfterMs.join(',')}`,
      );
    },
  );
});
