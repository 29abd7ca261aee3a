/**
 * Chaos: a node with live sessions is terminated. Built on the shared chaos cluster (two
 * replicas, two real nodes, the invariant monitor throughout). Sessions through the doomed node's
 * proxy are open and flowing when the fleet terminates it; the termination lifecycle hook drains
 * it before its processes go. Checked: the sessions flowed until the drain began; the node ends
 * Terminated with no container left; each codespace ends Running elsewhere or Stopped with reason
 * NodeTerminating, never on two nodes at once; started again, each runs on another node with the
 * files written before the termination.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxySession, type ApiClient } from '../support/e2e-api.js';
import {
  reportChaosResult,
  startChaosCluster,
  waitUntil,
  type ChaosCluster,
} from './support/chaos-cluster.js';
import { convergenceBoundMs } from './support/invariants.js';
import { SessionPinger } from './support/heartbeat-session-pinger.js';

const nodeCount = 2;
const codespaces = ['drained-a', 'drained-b'];
const phaseTimeoutMs = 60_000;
const terminatedTimeoutMs = 120_000;
const fileName = 'kept.txt';
const fileBodyOf = (name: string) => `files of ${name}\n`;

let cluster: ChaosCluster;
let alice: ApiClient;
const sessions: SessionPinger[] = [];

beforeAll(async () => {
  cluster = await startChaosCluster({ label: 'terminat', nodes: nodeCount });
  await cluster.waitForNodes(nodeCount);
  alice = await cluster.clientFor('alice');
}, 180_000);

afterAll(async () => {
  for (const session of sessions) await session.stop();
  await cluster?.close();
});

async function phasesAndNodes(): Promise<Map<string, { phase: string; node?: string; reason?: string }>> {
  const result = new Map<string, { phase: string; node?: string; reason?: string }>();
  for (const name of codespaces) {
    const { status } = await cluster.admin.mustGet(name);
    result.set(name, {
      phase: status.phase,
      ...(status.nodeName ? { node: status.nodeName } : {}),
      ...(status.stopReason ? { reason: status.stopReason } : {}),
    });
  }
  return result;
}

describe('chaos: terminating a node with live sessions', () => {
  it(
    'drains it through the lifecycle hook: sessions flow until the drain, codespaces move with their files',
    { timeout: 300_000 },
    async () => {
      // Both codespaces on one node: the first lands somewhere, the second is pinned by cordoning the other.
      await cluster.create(alice, codespaces[0]!);
      const doomed = await waitUntil(
        `${codespaces[0]} Running`,
        async () => {
          const { status } = await cluster.admin.mustGet(codespaces[0]!);
          return status.phase === 'Running' ? status.nodeName : undefined;
        },
        phaseTimeoutMs,
      );
      const others = cluster
        .nodes()
        .map((n) => n.name)
        .filter((n) => n !== doomed);
      for (const other of others) await cluster.admin.request('POST', `/v1/nodes/${other}/cordon`);
      await cluster.create(alice, codespaces[1]!);
      await waitUntil(
        `${codespaces[1]} Running on ${doomed}`,
        async () => {
          const { status } = await cluster.admin.mustGet(codespaces[1]!);
          return status.phase === 'Running' && status.nodeName === doomed ? true : undefined;
        },
        phaseTimeoutMs,
      );
      for (const other of others) await cluster.admin.request('POST', `/v1/nodes/${other}/uncordon`);

      for (const name of codespaces) {
        const files = await ProxySession.open(await alice.access(name));
        expect(
          (await files.fetch(`/files/${fileName}`, { method: 'PUT', body: fileBodyOf(name) })).status,
        ).toBe(204);
        const session = new SessionPinger(name, files);
        session.start();
        sessions.push(session);
      }

      await waitUntil(
        'both sessions flowing',
        async () => (sessions.every((session) => session.answered > 0) ? true : undefined),
        phaseTimeoutMs,
      );
      const terminateAtMs = Date.now();
      await cluster.fleet.terminate(doomed!, { decrementDesiredCapacity: false });
      await waitUntil(
        `${doomed} Terminated after its lifecycle action completed`,
        async () =>
          (await cluster.fleet.describe()).instances.find((i) => i.nodeName === doomed)?.lifecycle ===
          'Terminated'
            ? true
            : undefined,
        terminatedTimeoutMs,
      );
      const faultEndedAtMs = Date.now();
      // Sessions flowed until the termination began; afterwards they end with the node.
      for (const session of sessions) {
        await session.stop();
        const before = session.failuresBefore(terminateAtMs);
        expect(before, `${session.codespace}: ${before.map((f) => f.what).join('; ')}`).toEqual([]);
      }
      // Nothing left running on the terminated node.
      expect(
        (await cluster.monitor.dockerContainers()).filter((c) => c.node === doomed && c.state === 'running'),
      ).toEqual([]);

      const settled = await waitUntil(
        'every codespace Running elsewhere or Stopped with reason NodeTerminating',
        async () => {
          const all = await phasesAndNodes();
          const done = [...all.values()].every(
            (s) =>
              (s.phase === 'Running' && s.node !== doomed) ||
              (s.phase === 'Stopped' && s.reason === 'NodeTerminating'),
          );
          return done ? all : undefined;
        },
        convergenceBoundMs,
      );
      for (const [name, state] of settled) if (state.phase === 'Stopped') await alice.start(name);
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      for (const name of codespaces) {
        const { status } = await cluster.admin.mustGet(name);
        expect(status.nodeName).not.toBe(doomed);
        const reopened = await ProxySession.open(await alice.access(name));
        expect(await reopened.fetch(`/files/${fileName}`), name).toMatchObject({
          status: 200,
          body: fileBodyOf(name),
        });
      }
      cluster.monitor.assertClean('terminate-live-sessions');
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      reportChaosResult('terminate-live-sessions', { convergedInMs, checks: cluster.monitor.checks });
      console.info(`terminate-live-sessions outcome ${JSON.stringify(Object.fromEntries(settled))}`);
    },
  );
});
