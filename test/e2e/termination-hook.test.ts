import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../src/model/codespace.js';
import { phaseCounts, ProxySession, waitFor, type ApiClient } from '../support/e2e-api.js';
import { startCluster, testWorkspaceImage, type Cluster } from '../support/cluster-harness.js';

/**
 * Fleet Must-show #3 with the local fleet (real node processes, real Docker): a node running 10
 * codespaces is terminated; the termination lifecycle hook drains it before its processes go.
 * Each codespace ends either Running on another node or Stopped with reason NodeTerminating, and
 * its files are kept (locally every node uses the one Docker engine, so the volume outlives the
 * node). The lifecycle action completes: the node's processes exit and it is described Terminated.
 */
const users = ['grace', 'linus'];
const codespacesPerUser = 5;
const codespaceCount = users.length * codespacesPerUser;
const settleTimeoutMs = 120_000;
const testTimeoutMs = 360_000;

let cluster: Cluster;
const clients = new Map<string, ApiClient>();

beforeAll(async () => {
  cluster = await startCluster({ minNodes: 1, maxNodes: 2, desiredNodes: 1 });
  for (const user of users) clients.set(user, await cluster.clientFor(user));
});

afterAll(async () => {
  await cluster?.stop();
});

function clientOf(codespace: Codespace): ApiClient {
  return clients.get(codespace.metadata.owner)!;
}

function fileBodyOf(codespace: Codespace): string {
  return `files of ${codespace.metadata.name} (${codespace.metadata.uid})\n`;
}

async function allInPhase(phase: string, count: number): Promise<Codespace[] | undefined> {
  const all = await cluster.admin.list();
  return all.length === count && all.every((c) => c.status.phase === phase) ? all : undefined;
}

async function nodesKnownToOrchestrator(): Promise<string[]> {
  const response = await cluster.admin.request<{ items: { name: string }[] }>('GET', '/v1/nodes');
  return response.status === 200 ? response.body.items.map((n) => n.name) : [];
}

describe('the termination lifecycle hook on a real local fleet', () => {
  it(
    'drains a node with 10 running codespaces before it goes: each moves or stops NodeTerminating with its files',
    async () => {
      // Ten codespaces on the only node, each with a file written through the proxy.
      const created: Codespace[] = [];
      for (const user of users) {
        for (let i = 1; i <= codespacesPerUser; i += 1) {
          const codespace = await clients.get(user)!.create(`${user}-${i}`, { image: testWorkspaceImage });
          cluster.track(codespace);
          created.push(codespace);
        }
      }
      const running = await waitFor(
        `${codespaceCount} codespaces Running`,
        () => allInPhase('Running', codespaceCount),
        {
          timeoutMs: settleTimeoutMs,
          describe: async () => JSON.stringify(phaseCounts(await cluster.admin.list())),
        },
      );
      const doomed = running[0]!.status.nodeName!;
      expect(new Set(running.map((c) => c.status.nodeName))).toEqual(new Set([doomed]));
      for (const codespace of running) {
        const session = await ProxySession.open(await clientOf(codespace).access(codespace.metadata.name));
        const put = await session.fetch('/files/kept.txt', { method: 'PUT', body: fileBodyOf(codespace) });
        expect(put.status, codespace.metadata.name).toBeLessThan(300);
      }

      // A second node to move to, registered and Ready before the first one goes.
      await cluster.fleet.setDesiredCapacity(2);
      const [survivor] = await waitFor(
        'a second node in service and known to the orchestrator',
        async () => {
          const fleet = await cluster.fleet.describe();
          const other = fleet.instances.filter((i) => i.nodeName !== doomed && i.lifecycle === 'InService');
          const known = await nodesKnownToOrchestrator();
          return other.length === 1 && known.includes(other[0]!.nodeName) ? [other[0]!.nodeName] : undefined;
        },
        { timeoutMs: settleTimeoutMs },
      );
      const doomedSpec = cluster.fleet.nodeSpec(doomed)!;

      // Terminate the loaded node (the fleet shrinks back to one): the hook drains it first.
      await cluster.fleet.terminate(doomed, { decrementDesiredCapacity: true });
      const whileDraining = await cluster.fleet.describe();
      expect(whileDraining.instances.find((i) => i.nodeName === doomed)).toMatchObject({
        lifecycle: 'Terminating',
        terminationHookPending: true,
      });
      await waitFor(
        `${doomed} Terminated after its lifecycle action completed`,
        async () => {
          const fleet = await cluster.fleet.describe();
          return fleet.instances.find((i) => i.nodeName === doomed)?.lifecycle === 'Terminated'
            ? true
            : undefined;
        },
        { timeoutMs: settleTimeoutMs },
      );
      // Its processes have exited: neither its agent nor its proxy answers.
      await expect(fetch(`${doomedSpec.agentUrl}/healthz`)).rejects.toThrow();
      await expect(fetch(`${doomedSpec.proxyUrl}/healthz`)).rejects.toThrow();
      const log = await readFile(join(cluster.dataDir, 'orchestrator.log'), 'utf8');
      expect(log).toMatch(
        new RegExp(`"node":"${doomed}".*"outcome":"drained".*"lifecycle action completed"`),
      );
      // No container is left on the terminated node; every volume is kept.
      expect((await cluster.docker.containers(cluster.nodePrefix)).filter((c) => c.node === doomed)).toEqual(
        [],
      );
      for (const codespace of created)
        expect(await cluster.docker.volumeExists(codespace.metadata.uid)).toBe(true);

      // Every codespace settles Running elsewhere or Stopped with reason NodeTerminating.
      const settled = await waitFor(
        'every codespace moved or stopped NodeTerminating',
        async () => {
          const all = await cluster.admin.list();
          const done = all.every(
            (c) =>
              (c.status.phase === 'Running' && c.status.nodeName === survivor) ||
              (c.status.phase === 'Stopped' && c.status.stopReason === 'NodeTerminating'),
          );
          return all.length === codespaceCount && done ? all : undefined;
        },
        {
          timeoutMs: settleTimeoutMs,
          describe: async () => JSON.stringify(phaseCounts(await cluster.admin.list())),
        },
      );
      const outcome = phaseCounts(settled);
      console.info(`termination-hook policy observed: ${JSON.stringify(outcome)} after draining ${doomed}`);

      // The user starts the stopped ones again; all run on the survivor with their files.
      for (const codespace of settled) {
        if (codespace.status.phase === 'Stopped') await clientOf(codespace).start(codespace.metadata.name);
      }
      const moved = await waitFor(
        `${codespaceCount} codespaces Running on ${survivor}`,
        async () => {
          const all = await allInPhase('Running', codespaceCount);
          return all?.every((c) => c.status.nodeName === survivor) ? all : undefined;
        },
        {
          timeoutMs: settleTimeoutMs,
          describe: async () => JSON.stringify(phaseCounts(await cluster.admin.list())),
        },
      );
      for (const codespace of moved) {
        const container = await cluster.docker.containerOf(codespace.metadata.uid);
        expect(container).toMatchObject({ node: survivor, state: 'running' });
        const session = await ProxySession.open(await clientOf(codespace).access(codespace.metadata.name));
        expect(await session.fetch('/files/kept.txt'), codespace.metadata.name).toMatchObject({
          status: 200,
          body: fileBodyOf(codespace),
        });
      }
    },
    testTimeoutMs,
  );
});
