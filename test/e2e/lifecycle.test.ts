import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../src/model/codespace.js';
import { ProxySession, waitFor, type ApiClient } from '../support/e2e-api.js';
import { startCluster, testWorkspaceImage, type Cluster } from '../support/cluster-harness.js';

/**
 * Reconciler Must-show #1, with real Redis, real node agent + proxy processes and real Docker:
 * create → Running and reachable through the node proxy; a file written through the proxy
 * survives stop (container gone or exited, volume kept) and start; delete removes container,
 * volume and object.
 */
const settleTimeoutMs = 60_000;
const testTimeoutMs = 180_000;
const name = 'life-1';
const fileBody = 'hello from the lifecycle test\n';

let cluster: Cluster;
let alice: ApiClient;

beforeAll(async () => {
  cluster = await startCluster({ minNodes: 1, maxNodes: 1 });
  alice = await cluster.clientFor('alice');
});

afterAll(async () => {
  await cluster?.stop();
});

/** Waits until the codespace has settled in `phase` for its current generation. */
function settledIn(phase: Codespace['status']['phase']): Promise<Codespace> {
  return waitFor(
    `${name} settled in ${phase}`,
    async () => {
      const codespace = await alice.mustGet(name);
      return codespace.status.phase === phase &&
        codespace.status.observedGeneration === codespace.metadata.generation
        ? codespace
        : undefined;
    },
    { timeoutMs: settleTimeoutMs, describe: async () => JSON.stringify((await alice.get(name)).body.status) },
  );
}

function condition(codespace: Codespace, type: string) {
  return codespace.status.conditions.find((c) => c.type === type);
}

describe('a codespace through its whole life on a real cluster', () => {
  it(
    'runs, serves through the proxy, keeps its files across stop and start, and is removed on delete',
    async () => {
      const created = await alice.create(name, { image: testWorkspaceImage });
      cluster.track(created);
      const uid = created.metadata.uid;
      expect(created.metadata.owner).toBe('alice');
      expect(created.spec.running).toBe(true);

      // Running, placed on our only node, with a URL through that node's proxy.
      const running = await settledIn('Running');
      const [node] = (await cluster.fleet.describe()).instances;
      expect(running.status.nodeName).toBe(node!.nodeName);
      const proxyUrl = cluster.fleet.nodeSpec(node!.nodeName)!.proxyUrl;
      expect(running.status.url).toBe(`${proxyUrl}/cs/${name}/`);
      expect(condition(running, 'Ready')).toMatchObject({ status: 'True' });
      expect(condition(running, 'Scheduled')).toMatchObject({ status: 'True' });
      for (const c of running.status.conditions) expect(c.reason).not.toBe('');
      const container = await cluster.docker.containerOf(uid);
      expect(container).toMatchObject({ state: 'running', node: node!.nodeName, name });

      // Reachable through the node proxy with an access token; a file written through it.
      const session = await ProxySession.open(await alice.access(name));
      expect(session.base).toBe(`${proxyUrl}/cs/${name}`);
      const home = await session.fetch('/');
      expect(home.status).toBe(200);
      expect(
        (await session.fetch('/files/hello.txt', { method: 'PUT', body: fileBody })).status,
      ).toBeLessThan(300);
      expect(await session.fetch('/files/hello.txt')).toMatchObject({ status: 200, body: fileBody });

      // Stop: Stopped by the user, container gone or exited, volume kept.
      await alice.stop(name);
      const stopped = await settledIn('Stopped');
      expect(stopped.spec.running).toBe(false);
      expect(stopped.status.stopReason).toBe('User');
      expect(stopped.metadata.generation).toBeGreaterThan(running.metadata.generation);
      expect(condition(stopped, 'Ready')).toMatchObject({ status: 'False' });
      const afterStop = await cluster.docker.containerOf(uid);
      if (afterStop !== undefined) expect(afterStop.state).not.toBe('running');
      expect(await cluster.docker.volumeExists(uid)).toBe(true);
      // The proxy no longer serves it.
      expect((await session.fetch('/files/hello.txt')).status).not.toBe(200);

      // Start: Running again, and the same file is served.
      await alice.start(name);
      const restarted = await settledIn('Running');
      expect(restarted.status.nodeName).toBe(node!.nodeName);
      expect(restarted.status.stopReason).toBeUndefined();
      expect(condition(restarted, 'Ready')).toMatchObject({ status: 'True' });
      expect(await cluster.docker.containerOf(uid)).toMatchObject({ state: 'running' });
      const again = await ProxySession.open(await alice.access(name));
      expect(await again.fetch('/files/hello.txt')).toMatchObject({ status: 200, body: fileBody });

      // Delete: the object goes (404), and with it container and volume.
      await alice.delete(name);
      await waitFor(
        `${name} removed`,
        async () => ((await alice.get(name)).status === 404 ? true : undefined),
        {
          timeoutMs: settleTimeoutMs,
        },
      );
      await waitFor(
        `${name}'s container and volume removed`,
        async () =>
          (await cluster.docker.containerOf(uid)) === undefined && !(await cluster.docker.volumeExists(uid))
            ? true
            : undefined,
        { timeoutMs: settleTimeoutMs },
      );
      expect(await alice.list()).toEqual([]);
    },
    testTimeoutMs,
  );
});
