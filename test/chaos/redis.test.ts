/**
 * Chaos: the store goes away. Two real orchestrator replicas on one real `redis-server` with AOF
 * (fsync on every write), two real nodes on Docker, a user's session open through a node proxy.
 *
 *   redis-restart          kill -9 Redis, keep it down a few seconds, restart it from its AOF.
 *                          Meanwhile the API answers 503 and the session keeps flowing; afterwards
 *                          every acknowledged codespace is still there and the cluster converges.
 *   redis-down-past-grace  Redis down for longer than the node grace period: the orchestrators
 *                          cannot see a single beat, yet no node is fenced — not during the
 *                          outage, and not right after it, when every node record looks stale.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../support/e2e-api.js';
import {
  chaosTiming,
  reportChaosResult,
  startChaosCluster,
  waitUntil,
  type ChaosCluster,
} from './support/chaos-cluster.js';
import { convergenceBoundMs } from './support/invariants.js';
import type { LiveSession } from './support/live-session.js';

const nodeCount = 2;
const scenarioTimeoutMs = 120_000;
const phaseTimeoutMs = 60_000;
const shortOutageMs = 5_000;
/** Longer than the node grace period, with room for a late judgement. */
const longOutageMs = chaosTiming.nodeLostGraceMs + 5_000;
const apiProbeIntervalMs = 1_000;
/** After the store is back, watch this long for a late (wrong) fencing of nodes whose records looked stale. */
const watchAfterReturnMs = chaosTiming.nodeNotReadyAfterMs;

let cluster: ChaosCluster;
let erin: ApiClient;
let session: LiveSession;

beforeAll(async () => {
  cluster = await startChaosCluster({ label: 'redis', nodes: nodeCount });
  await cluster.waitForNodes(nodeCount);
  erin = await cluster.clientFor('erin');
  for (const name of ['store-a', 'store-b', 'store-c']) await cluster.create(erin, name);
  await cluster.monitor.converged({ faultEndedAtMs: Date.now(), timeoutMs: phaseTimeoutMs });
  session = await cluster.openSession(erin, 'store-a');
  session.start();
  cluster.monitor.watchSession(session);
}, scenarioTimeoutMs);

afterAll(async () => {
  await session?.stop();
  session?.close();
  await cluster?.close();
});

/** Probes the API every second while `outageMs` passes; returns the statuses it answered. */
async function apiStatusesDuring(outageMs: number): Promise<number[]> {
  const statuses: number[] = [];
  const endMs = Date.now() + outageMs;
  while (Date.now() < endMs) {
    const response = await cluster.admin.request('GET', '/v1/codespaces').catch(() => undefined);
    statuses.push(response?.status ?? 0);
    await sleep(apiProbeIntervalMs);
  }
  return statuses;
}

async function outage(outageMs: number): Promise<{ statuses: number[]; faultEndedAtMs: number }> {
  cluster.monitor.sessionsMustFlow = true;
  await cluster.redis.kill9();
  const statuses = await apiStatusesDuring(outageMs);
  await cluster.redis.restart();
  return { statuses, faultEndedAtMs: Date.now() };
}

describe('chaos: Redis goes away', () => {
  it(
    'redis-restart: kill -9 and restart from AOF; the API answers 503 meanwhile, sessions flow, nothing acknowledged is lost',
    async () => {
      // Acknowledged the instant before the crash: with fsync on every write it must survive.
      await cluster.create(erin, 'store-last');
      const { statuses, faultEndedAtMs } = await outage(shortOutageMs);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 503)).toBe(true);
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      cluster.monitor.sessionsMustFlow = false;
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      expect((await cluster.admin.list()).map((c) => c.metadata.name).sort()).toEqual(
        cluster.monitor.acknowledgedNames(),
      );
      expect(session.failuresSince(faultEndedAtMs - shortOutageMs)).toEqual([]);
      cluster.monitor.assertClean('redis-restart');
      reportChaosResult('redis-restart', { convergedInMs, checks: cluster.monitor.checks });
    },
    scenarioTimeoutMs,
  );

  it(
    'redis-down-past-grace: Redis down longer than the node grace period; no node is fenced, during or after',
    async () => {
      const nodesBefore = (await cluster.fleet.describe()).instances.map(
        (i) => `${i.nodeName}:${i.lifecycle}`,
      );
      const fencesBefore = cluster.fencedByOrchestrator.length;
      const { statuses, faultEndedAtMs } = await outage(longOutageMs);
      expect(statuses.every((s) => s === 503)).toBe(true);
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      // Node records are now older than the grace period: a judgement on them alone would fence.
      await sleep(Math.max(0, faultEndedAtMs + watchAfterReturnMs - Date.now()));
      await waitUntil(
        'both nodes Ready again',
        async () => ((await cluster.waitForNodes(nodeCount)).length === nodeCount ? true : undefined),
        phaseTimeoutMs,
      );
      cluster.monitor.sessionsMustFlow = false;
      expect(cluster.fencedByOrchestrator.slice(fencesBefore)).toEqual([]);
      expect((await cluster.fleet.describe()).instances.map((i) => `${i.nodeName}:${i.lifecycle}`)).toEqual(
        nodesBefore,
      );
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      cluster.monitor.assertClean('redis-down-past-grace');
      reportChaosResult('redis-down-past-grace', { convergedInMs, checks: cluster.monitor.checks });
    },
    scenarioTimeoutMs,
  );
});
