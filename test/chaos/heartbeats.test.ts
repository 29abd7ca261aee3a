/**
 * Chaos: duplicated and out-of-order heartbeats. A real orchestrator process on Redis and a real
 * agent on Docker, beating through a relay that keeps every beat it delivered. While the monitor
 * samples the orchestrator's view continuously, captured real beats are replayed late and twice —
 * from the same boot, and from a boot the node has since left. None may be accepted: the node's
 * observed state never moves backwards, and the codespace is not started again (no duplicate action).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../src/model/codespace.js';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { waitFor } from '../support/e2e-api.js';
import {
  chaosHeartbeatIntervalMs,
  startHeartbeatCluster,
  type HeartbeatCluster,
} from './support/heartbeat-cluster.js';
import { ObservedStateMonitor } from './support/heartbeat-monitor.js';
import type { CapturedBeat } from './support/heartbeat-relay.js';

requireDockerAndImage();

const codespace = 'beats';
const phaseTimeoutMs = 60_000;
/** After the replays, watch this many beat intervals for anything moving backwards. */
const watchAfterReplayBeats = 3;
const convergenceBoundMs = 30_000;

let cluster: HeartbeatCluster;
let monitor: ObservedStateMonitor;
beforeAll(async () => {
  cluster = await startHeartbeatCluster({
    label: 'beats',
    nodes: [{ label: 'beats', portRange: { start: 18_160, end: 18_163 } }],
  });
  monitor = new ObservedStateMonitor(cluster);
  monitor.start();
});
afterAll(async () => {
  await monitor?.stop();
  await cluster?.close();
});

async function phaseOf(name: string): Promise<Codespace['status']> {
  return (await cluster.admin.mustGet(name)).status;
}

function lastCaptured(predicate: (beat: CapturedBeat) => boolean): CapturedBeat | undefined {
  return cluster.nodes[0]!.relay.captured.filter(predicate).at(-1);
}

const holds = (uid: string, state: string) => (b: CapturedBeat) =>
  b.beat.containers.some((c) => c.uid === uid && c.state === state);

describe('chaos: duplicated and out-of-order heartbeats', () => {
  it(
    'ignores captured beats replayed late and twice, from this boot and a previous one',
    { timeout: 240_000 },
    async () => {
      const node = cluster.nodes[0]!;
      monitor.mustStayReady.add(node.name);
      const created = await cluster.admin.create(codespace, { running: true, idleTimeoutSeconds: 14_400 });
      const uid = created.metadata.uid;
      await waitFor(
        'the codespace Running',
        async () => ((await phaseOf(codespace))?.phase === 'Running' ? true : undefined),
        { timeoutMs: phaseTimeoutMs },
      );
      const beforeAny = node.relay.captured[0]!;
      const whileRunning = await waitFor(
        'a beat showing it running',
        async () => lastCaptured(holds(uid, 'running')),
        {
          timeoutMs: phaseTimeoutMs,
        },
      );

      await cluster.admin.stop(codespace);
      await waitFor(
        'the codespace Stopped',
        async () => ((await phaseOf(codespace))?.phase === 'Stopped' ? true : undefined),
        { timeoutMs: phaseTimeoutMs },
      );
      const afterStop = await waitFor(
        'a beat showing it stopped',
        async () => lastCaptured(holds(uid, 'exited')),
        {
          timeoutMs: phaseTimeoutMs,
        },
      );

      // Same boot: late (older sequence), duplicated, and an exact duplicate of a recent beat.
      const sameBoot = [whileRunning, beforeAny, whileRunning, afterStop, afterStop];
      for (const beat of sameBoot)
        expect(await node.relay.replay(beat), `seq ${beat.beat.sequence}`).toBe(false);
      await sleep(watchAfterReplayBeats * chaosHeartbeatIntervalMs);
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);

      // A new boot: beats of the boot the node left are late by definition.
      monitor.mustStayReady.delete(node.name);
      const oldBootId = whileRunning.beat.bootId;
      await node.kill9();
      await node.restart();
      await waitFor(
        'the new boot accepted',
        async () => {
          const record = await cluster.node(node.name);
          return record && record.bootId !== oldBootId ? true : undefined;
        },
        { timeoutMs: phaseTimeoutMs },
      );
      monitor.mustStayReady.add(node.name);
      for (const beat of [whileRunning, afterStop, whileRunning])
        expect(await node.relay.replay(beat), `old boot seq ${beat.beat.sequence}`).toBe(false);
      const faultEndedMs = Date.now();
      const newest = node.relay.captured.at(-1)!;
      // Converged: the orchestrator holds the node's live boot at (at least) its newest delivered beat.
      await waitFor(
        'the orchestrator to hold the live boot',
        async () => {
          const record = await cluster.node(node.name);
          return record?.bootId === newest.beat.bootId && record.sequence >= newest.beat.sequence
            ? true
            : undefined;
        },
        { timeoutMs: convergenceBoundMs },
      );
      const convergedInMs = Date.now() - faultEndedMs;
      await sleep(watchAfterReplayBeats * chaosHeartbeatIntervalMs);

      expect((await phaseOf(codespace))?.phase).toBe('Stopped');
      const record = await cluster.node(node.name);
      expect(record?.containers.find((c) => c.uid === uid)?.state).toBe('exited');
      await monitor.sampleOnce();
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      console.info(
        `chaos-result heartbeats-replayed converged-in-ms=${convergedInMs} checks=${monitor.checks}`,
      );
    },
  );
});
