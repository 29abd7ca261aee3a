import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../src/model/codespace.js';
import { phaseCounts, waitFor, type ApiClient } from '../support/e2e-api.js';
import { ClusterSampler } from '../support/e2e-sampler.js';
import { startCluster, testWorkspaceImage, type Cluster } from '../support/cluster-harness.js';

/**
 * Fleet Must-show #1 with the local fleet (real node processes, real Docker): 45 codespaces on a
 * fleet of one node (min 1, max 3, 20 per node) make the autoscaler grow it to 3 nodes and all
 * 45 run; once they are deleted the empty nodes go after a short cool-down, down to the minimum.
 * Docker and the API are sampled every second: never two containers for one uid, never more
 * than 3 live nodes, every codespace seen Running.
 */
const users = ['ada', 'brian', 'claude', 'dennis', 'edsger'];
const codespacesPerUser = 9;
const codespaceCount = users.length * codespacesPerUser;
const minNodes = 1;
const maxNodes = 3;
const scaleInCooldownMs = 10_000;
const cordonSettleMs = 2_000;
const allRunningTimeoutMs = 180_000;
const shrinkTimeoutMs = 90_000;
const testTimeoutMs = 420_000;

let cluster: Cluster;
let sampler: ClusterSampler | undefined;

beforeAll(async () => {
  cluster = await startCluster({
    minNodes,
    maxNodes,
    autoscaler: {
      scaleInCooldownMs,
      cordonSettleMs,
      scaleInAfterScaleOutCooldownMs: scaleInCooldownMs,
      intervalMs: 1_000,
    },
  });
});

afterAll(async () => {
  await sampler?.stop();
  await cluster?.stop();
});

async function liveNodes(): Promise<string[]> {
  const fleet = await cluster.fleet.describe();
  return fleet.instances
    .filter((i) => i.lifecycle === 'Pending' || i.lifecycle === 'InService')
    .map((i) => i.nodeName);
}

describe('the local fleet under the autoscaler', () => {
  it(
    'grows from 1 to 3 nodes for 45 codespaces, runs them all once each, and shrinks back to 1 after they go',
    async () => {
      expect(await liveNodes()).toHaveLength(minNodes);
      sampler = new ClusterSampler({
        docker: cluster.docker,
        nodePrefix: cluster.nodePrefix,
        admin: cluster.admin,
        fleet: cluster.fleet,
      });
      sampler.start();

      const clients = new Map<string, ApiClient>();
      for (const user of users) clients.set(user, await cluster.clientFor(user));
      const created: Codespace[] = [];
      for (const user of users) {
        for (let i = 1; i <= codespacesPerUser; i += 1) {
          const codespace = await clients.get(user)!.create(`${user}-${i}`, { image: testWorkspaceImage });
          cluster.track(codespace);
          created.push(codespace);
        }
      }

      const running = await waitFor(
        `all ${codespaceCount} codespaces Running`,
        async () => {
          const all = await cluster.admin.list();
          return all.length === codespaceCount && all.every((c) => c.status.phase === 'Running')
            ? all
            : undefined;
        },
        {
          timeoutMs: allRunningTimeoutMs,
          describe: async () =>
            `${JSON.stringify(phaseCounts(await cluster.admin.list()))}, nodes ${JSON.stringify(await liveNodes())}`,
        },
      );
      // The sampler looks once a second; take one sample now that all are Running, before the
      // deletes below, so a fast start is not missed between two of its samples.
      await sampler.sampleOnce();
      const nodes = await liveNodes();
      expect(nodes).toHaveLength(maxNodes);
      // Each runs on a node of this fleet, in exactly one running container there.
      const containers = await cluster.docker.containers(cluster.nodePrefix);
      for (const codespace of running) {
        const mine = containers.filter((c) => c.uid === codespace.metadata.uid);
        expect(mine, codespace.metadata.name).toHaveLength(1);
        expect(mine[0]!.state).toBe('running');
        expect(mine[0]!.node).toBe(codespace.status.nodeName);
        expect(nodes).toContain(codespace.status.nodeName);
      }
      const perNode = new Map<string, number>();
      for (const c of running) perNode.set(c.status.nodeName!, (perNode.get(c.status.nodeName!) ?? 0) + 1);
      for (const count of perNode.values()) expect(count).toBeLessThanOrEqual(20);

      for (const codespace of created)
        await clients.get(codespace.metadata.owner)!.delete(codespace.metadata.name);
      await waitFor(
        'every codespace and container gone',
        async () =>
          (await cluster.admin.list()).length === 0 &&
          (await cluster.docker.containers(cluster.nodePrefix)).length === 0
            ? true
            : undefined,
        { timeoutMs: allRunningTimeoutMs },
      );
      await waitFor(
        `the fleet back at its minimum (${minNodes})`,
        async () => {
          const fleet = await cluster.fleet.describe();
          const live = await liveNodes();
          const settled = fleet.instances.every((i) => i.lifecycle !== 'Terminating');
          return live.length === minNodes && fleet.desiredCapacity === minNodes && settled ? true : undefined;
        },
        { timeoutMs: shrinkTimeoutMs, describe: async () => JSON.stringify(await cluster.fleet.describe()) },
      );
      await sampler.stop();

      expect(sampler.violations).toEqual([]);
      expect(sampler.failed).toEqual(new Map());
      expect(sampler.maxLiveNodes).toBe(maxNodes);
      expect(new Set(sampler.seenRunning.keys())).toEqual(new Set(created.map((c) => c.metadata.uid)));
      expect(sampler.samples).toBeGreaterThan(10);
      // Volumes go with their codespaces.
      for (const codespace of created)
        expect(await cluster.docker.volumeExists(codespace.metadata.uid)).toBe(false);
    },
    testTimeoutMs,
  );
});
