/**
 * Chaos: an agent restarted every few seconds for a minute. A real orchestrator on Redis and a
 * real agent on Docker running two codespaces; the agent is killed -9 by pid and started again
 * over and over. Checked continuously: each codespace keeps exactly one container, the same one
 * (nothing recreated, nothing started twice), running throughout; the node is never judged
 * NotReady while its beats arrive within the limit; its observed state never moves backwards
 * (each restart is a new boot; an old boot never comes back). Afterwards everything is Running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { waitFor } from '../support/e2e-api.js';
import {
  chaosNodeNotReadyAfterMs,
  isReady,
  startHeartbeatCluster,
  type HeartbeatCluster,
} from './support/heartbeat-cluster.js';
import { ObservedStateMonitor } from './support/heartbeat-monitor.js';
import { dockerViewOf, type DockerView } from './support/heartbeat-node-harness.js';

requireDockerAndImage();

/** How long the agent is restarted over and over. */
const restartingForMs = 60_000;
/** Pause between an agent answering again and the next kill. */
const restartEveryMs = 3_000;
const codespaces = ['steady-a', 'steady-b'];
const phaseTimeoutMs = 90_000;
const dockerSampleIntervalMs = 500;
const convergenceBoundMs = 30_000;

let cluster: HeartbeatCluster;
let monitor: ObservedStateMonitor;
beforeAll(async () => {
  cluster = await startHeartbeatCluster({
    label: 'restarts',
    nodes: [{ label: 'restarts', portRange: { start: 18_200, end: 18_203 } }],
  });
  monitor = new ObservedStateMonitor(cluster);
  monitor.start();
});
afterAll(async () => {
  await monitor?.stop();
  await cluster?.close();
});

describe('chaos: an agent restarted every few seconds for a minute', () => {
  it(
    'keeps one container per codespace, recreates none, and is not judged NotReady while beats arrive',
    { timeout: restartingForMs + 240_000 },
    async () => {
      const node = cluster.nodes[0]!;
      const uids = new Map<string, string>();
      for (const name of codespaces) {
        uids.set(
          name,
          (await cluster.admin.create(name, { running: true, idleTimeoutSeconds: 14_400 })).metadata.uid,
        );
      }
      for (const name of codespaces) {
        await waitFor(
          `${name} Running`,
          async () => ((await cluster.admin.mustGet(name)).status.phase === 'Running' ? true : undefined),
          { timeoutMs: phaseTimeoutMs },
        );
      }
      const original = new Map((await dockerViewOf(node.name)).map((c) => [c.uid, c.id]));
      monitor.notReadyOnlyWhenSilent.set(node.name, {
        relay: node.relay,
        notReadyAfterMs: chaosNodeNotReadyAfterMs,
      });

      const dockerViolations: string[] = [];
      let dockerChecks = 0;
      const checkDocker = (containers: DockerView[]) => {
        dockerChecks += 1;
        for (const uid of uids.values()) {
          const mine = containers.filter((c) => c.uid === uid);
          if (mine.length !== 1) dockerViolations.push(`${uid}: ${mine.length} containers`);
          else if (mine[0]!.id !== original.get(uid))
            dockerViolations.push(`${uid}: recreated as ${mine[0]!.id}`);
          else if (mine[0]!.state !== 'running') dockerViolations.push(`${uid}: ${mine[0]!.state}`);
        }
      };
      let restarting = true;
      const dockerLoop = (async () => {
        while (restarting) {
          checkDocker(await dockerViewOf(node.name));
          await sleep(dockerSampleIntervalMs);
        }
      })();

      let restarts = 0;
      const untilMs = Date.now() + restartingForMs;
      try {
        while (Date.now() < untilMs) {
          await node.kill9();
          await node.restart();
          restarts += 1;
          await sleep(restartEveryMs);
        }
      } finally {
        restarting = false;
        await dockerLoop;
      }
      const endedAtMs = Date.now();
      await waitFor(
        'the node Ready and every codespace Running after the restarts',
        async () => {
          const record = await cluster.node(node.name);
          const phases = await Promise.all(
            codespaces.map(async (n) => (await cluster.admin.mustGet(n)).status.phase),
          );
          return isReady(record) && phases.every((p) => p === 'Running') ? true : undefined;
        },
        { timeoutMs: convergenceBoundMs, intervalMs: 250 },
      );
      const convergedInMs = Date.now() - endedAtMs;
      checkDocker(await dockerViewOf(node.name));
      await monitor.sampleOnce();
      expect(dockerViolations, dockerViolations.join('\n')).toEqual([]);
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
      expect(restarts).toBeGreaterThan(3);
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      console.info(
        `chaos-result agent-restart converged-in-ms=${convergedInMs} checks=${dockerChecks + monitor.checks} ` +
          `restarts=${restarts} not-ready-samples=${monitor.notReadySamples}`,
      );
    },
  );
});
