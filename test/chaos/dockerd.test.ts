/**
 * Chaos: the node's Docker daemon dies and comes back. The machine's dockerd is never touched:
 * the node runs on a private dockerd of this test (own data root, exec root, pid file and unix
 * socket; `--bridge=none --iptables=false`), into which the test image is loaded, and that daemon
 * is killed with SIGKILL by pid and started again.
 *
 * With no bridge, the private daemon gives containers no network, so the workspace never answers
 * its readiness probe and the codespace stays Starting: this scenario judges the node's own
 * recovery — the container is running again in Docker, once, on the same host port, the agent
 * reports it, the agent itself never crashed, and the node was not fenced meanwhile (its beats
 * kept arriving) — not the codespace phase. The invariant monitor samples throughout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../src/model/node.js';
import type { ApiClient } from '../support/e2e-api.js';
import {
  reportChaosResult,
  startChaosCluster,
  testWorkspaceImage,
  waitUntil,
  type ChaosCluster,
} from './support/chaos-cluster.js';
import { convergenceBoundMs, type ObservedDockerContainer } from './support/invariants.js';
import { PrivateDockerd } from './support/private-dockerd.js';

const scenarioTimeoutMs = 150_000;
const phaseTimeoutMs = 60_000;
/** Long enough for several beats and idle checks to run against a dead engine. */
const dockerdDownMs = 4_000;

let dockerd: PrivateDockerd;
let cluster: ChaosCluster;
let frank: ApiClient;

beforeAll(async () => {
  dockerd = await PrivateDockerd.start({ images: [testWorkspaceImage] });
  cluster = await startChaosCluster({
    label: 'dockerd',
    nodes: 1,
    replicas: 1,
    dockerHostFor: () => dockerd.host,
  });
  await cluster.waitForNodes(1);
  frank = await cluster.clientFor('frank');
}, scenarioTimeoutMs);

afterAll(async () => {
  await cluster?.close();
  await dockerd?.remove();
});

async function containerIn(name: string): Promise<ObservedDockerContainer[]> {
  return (await cluster.monitor.dockerContainers()).filter((c) => c.name === name);
}

async function reportedState(nodeName: string, uid: string): Promise<string | undefined> {
  const response = await cluster.admin.request<{ items: NodeRecord[] }>('GET', '/v1/nodes');
  return response.body.items.find((n) => n.name === nodeName)?.containers.find((c) => c.uid === uid)?.state;
}

describe('chaos: the node’s dockerd dies', () => {
  it(
    'dockerd-restart: kill -9 the node’s dockerd and restart it; the workspace runs again once, on its port, the node is not fenced',
    async () => {
      const codespace = await cluster.create(frank, 'dock-a');
      const uid = codespace.metadata.uid;
      const [node] = cluster.nodes();
      const [before] = await waitUntil(
        'the container running in the private engine, reported by the node',
        async () => {
          const containers = await containerIn('dock-a');
          const running = containers.length === 1 && containers[0]!.state === 'running';
          return running && (await reportedState(node!.name, uid)) === 'running' ? containers : undefined;
        },
        phaseTimeoutMs,
      );
      const agentPid = node!.agentPid();
      const fencesBefore = cluster.fencedByOrchestrator.length;

      await dockerd.kill9();
      await sleep(dockerdDownMs);
      const beatsWhileDown = node!.relay.lastBeatArrivedAtMs ?? 0;
      await dockerd.restart();
      const faultEndedAtMs = Date.now();

      const [after] = await waitUntil(
        'the container running again, once, reported by the node',
        async () => {
          const containers = await containerIn('dock-a');
          const running = containers.length === 1 && containers[0]!.state === 'running';
          return running && (await reportedState(node!.name, uid)) === 'running' ? containers : undefined;
        },
        convergenceBoundMs,
      );
      const convergedInMs = Date.now() - faultEndedAtMs;
      expect(after!.hostPort).toBe(before!.hostPort);
      expect(after!.node).toBe(node!.name);
      // The agent rode it out (no crash, no restart by its supervisor) and kept beating.
      expect(node!.agentPid()).toBe(agentPid);
      expect(node!.agentRestarts).toBe(0);
      expect(beatsWhileDown).toBeGreaterThan(faultEndedAtMs - dockerdDownMs - 2_000);
      expect(cluster.fencedByOrchestrator.slice(fencesBefore)).toEqual([]);
      expect((await cluster.fleet.describe()).instances.map((i) => i.lifecycle)).toEqual(['InService']);
      // Ports and containers stay one to one through a few more samples.
      await sleep(2_000);
      cluster.monitor.assertClean('dockerd-restart');
      reportChaosResult('dockerd-restart', { convergedInMs, checks: cluster.monitor.checks });
    },
    scenarioTimeoutMs,
  );
});
