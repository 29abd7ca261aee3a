/**
 * Chaos: one node cut off from the orchestrators, then healed. Built on the shared chaos cluster
 * (two replicas on AOF Redis, two real nodes, each reaching the orchestrators through its relay,
 * the invariant monitor sampling throughout: at most one running container per codespace, no
 * healthy node fenced, no spec lost, sequences never backwards, ports ↔ containers).
 *
 *   node-cut-within-grace   the relay drops the node's traffic for less than the node grace:
 *                           NotReady at most, nobody fenced, nothing moves (same container);
 *   node-cut-fenced         the cut lasts past the grace: the node is fenced (terminated through
 *                           the fleet, its containers removed) before its codespace is rescheduled
 *                           on the other node with its files; healing the relay brings nothing back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxySession, type ApiClient } from '../support/e2e-api.js';
import {
  chaosTiming,
  reportChaosResult,
  startChaosCluster,
  waitUntil,
  type ChaosCluster,
} from './support/chaos-cluster.js';
import { convergenceBoundMs } from './support/invariants.js';

const nodeCount = 2;
const phaseTimeoutMs = 60_000;
/** Within grace: long enough for NotReady, well short of the Lost grace. */
const cutWithinGraceMs = (chaosTiming.nodeNotReadyAfterMs + chaosTiming.nodeLostGraceMs) / 2;
/** Past grace: the fence must come; allow a loaded CI machine plenty beyond the grace itself. */
const fenceTimeoutMs = chaosTiming.nodeLostGraceMs + 45_000;
const fileName = 'notes.md';
const fileBody = '# written before the cut';

let cluster: ChaosCluster;
let alice: ApiClient;

beforeAll(async () => {
  cluster = await startChaosCluster({ label: 'nodecut', nodes: nodeCount });
  await cluster.waitForNodes(nodeCount);
  alice = await cluster.clientFor('alice');
}, 180_000);

afterAll(async () => {
  await cluster?.close();
});

async function runningOn(name: string): Promise<{ nodeName: string; uid: string }> {
  return waitUntil(
    `${name} Running`,
    async () => {
      const codespace = await cluster.admin.mustGet(name);
      return codespace.status.phase === 'Running' && codespace.status.nodeName
        ? { nodeName: codespace.status.nodeName, uid: codespace.metadata.uid }
        : undefined;
    },
    phaseTimeoutMs,
  );
}

async function containerIdsOf(uid: string): Promise<string[]> {
  return (await cluster.monitor.dockerContainers())
    .filter((c) => c.uid === uid && c.state === 'running')
    .map((c) => `${c.node}/${c.name}`);
}

describe('chaos: one node cut off from the orchestrators', () => {
  it('heals within grace: nobody fenced, nothing moves', { timeout: 180_000 }, async () => {
    await cluster.create(alice, 'stayer');
    const { nodeName, uid } = await runningOn('stayer');
    const before = await containerIdsOf(uid);
    const relay = cluster.node(nodeName).relay;
    const fencesBefore = cluster.fencedByOrchestrator.length;

    relay.cut();
    await sleep(cutWithinGraceMs);
    relay.heal();
    const faultEndedAtMs = Date.now();

    const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
    expect(cluster.fencedByOrchestrator.slice(fencesBefore)).toEqual([]);
    const after = await cluster.admin.mustGet('stayer');
    expect(after.status.nodeName).toBe(nodeName);
    expect(await containerIdsOf(uid)).toEqual(before);
    cluster.monitor.assertClean('node-cut-within-grace');
    expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
    reportChaosResult('node-cut-within-grace', { convergedInMs, checks: cluster.monitor.checks });
  });

  it(
    'past grace: fenced before its codespace moves with its files; healing brings no duplicate back',
    { timeout: 240_000 },
    async () => {
      await cluster.create(alice, 'mover');
      const { nodeName, uid } = await runningOn('mover');
      const session = await ProxySession.open(await alice.access('mover'));
      expect((await session.fetch(`/files/${fileName}`, { method: 'PUT', body: fileBody })).status).toBe(204);
      const relay = cluster.node(nodeName).relay;

      relay.cut();
      let movedBeforeFence: string | undefined;
      await waitUntil(
        `${nodeName} fenced by an orchestrator`,
        async () => {
          const fenced = cluster.fencedByOrchestrator.find((f) => f.nodeName === nodeName);
          if (fenced) return fenced;
          // Fence before you move: until the fence, the codespace stays assigned to the silent node.
          const status = (await cluster.admin.mustGet('mover')).status;
          if (
            status.nodeName !== nodeName &&
            !cluster.fencedByOrchestrator.some((f) => f.nodeName === nodeName)
          )
            movedBeforeFence ??= `${status.phase} on ${status.nodeName}`;
          return undefined;
        },
        fenceTimeoutMs,
      );
      expect(movedBeforeFence, 'mover left the silent node before it was fenced').toBeUndefined();
      relay.heal();
      const faultEndedAtMs = Date.now();
      const moved = await waitUntil(
        'mover rescheduled on another node',
        async () => {
          const codespace = await cluster.admin.mustGet('mover');
          return codespace.status.phase === 'Running' && codespace.status.nodeName !== nodeName
            ? codespace
            : undefined;
        },
        convergenceBoundMs,
      );
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      // Fenced means terminated: the old node runs nothing of it, and it was fenced before the move.
      expect((await containerIdsOf(uid)).every((id) => !id.startsWith(`${nodeName}/`))).toBe(true);
      expect(moved.status.nodeName).not.toBe(nodeName);
      const reopened = await ProxySession.open(await alice.access('mover'));
      expect(await reopened.fetch(`/files/${fileName}`)).toMatchObject({ status: 200, body: fileBody });
      cluster.monitor.assertClean('node-cut-fenced');
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      reportChaosResult('node-cut-fenced', { convergedInMs, checks: cluster.monitor.checks });
    },
  );
});
