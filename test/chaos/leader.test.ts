/**
 * Chaos: the reconciler leader dies or freezes. Two real orchestrator replicas on one AOF Redis,
 * two real nodes on Docker, the invariant monitor sampling throughout, and a user's session open
 * through a node proxy the whole time (leader faults are control-plane-only: it must keep flowing).
 *
 *   leader-kill9          kill -9 the leader while it places and starts a burst of codespaces;
 *   leader-frozen-write   the leader freezes (SIGSTOP, at a fault point just past its epoch check,
 *                         before a store write) for longer than its lease; once resumed, its late
 *                         write reaches Redis and the Lua epoch fence refuses it;
 *   leader-frozen-command the same just before an agent command: the node, which has accepted
 *                         the new leader's epoch meanwhile, refuses the late command.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../support/e2e-api.js';
import type { OrchestratorProcess } from '../support/e2e-orchestrator-process.js';
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
const burstSize = 8;
const scenarioTimeoutMs = 150_000;
const phaseTimeoutMs = 60_000;
/** A frozen leader stays frozen this much longer than its lease, so another surely took over. */
const freezeBeyondLeaseMs = 2_000;
const refusalLogTimeoutMs = 20_000;
const armAttemptsMax = 3;

let cluster: ChaosCluster;
let alice: ApiClient;
let bob: ApiClient;
let session: LiveSession;

beforeAll(async () => {
  cluster = await startChaosCluster({ label: 'leader', nodes: nodeCount });
  await cluster.waitForNodes(nodeCount);
  alice = await cluster.clientFor('alice');
  bob = await cluster.clientFor('bob');
  await cluster.create(alice, 'steady');
  await runningPhase('steady');
  session = await cluster.openSession(alice, 'steady');
  session.start();
  cluster.monitor.watchSession(session);
}, scenarioTimeoutMs);

afterAll(async () => {
  await session?.stop();
  session?.close();
  await cluster?.close();
});

async function runningPhase(name: string): Promise<void> {
  await waitUntil(
    `${name} Running`,
    async () => ((await cluster.admin.mustGet(name)).status.phase === 'Running' ? true : undefined),
    phaseTimeoutMs,
  );
}

function logOf(replica: OrchestratorProcess): string {
  return readFileSync(replica.logPath, 'utf8');
}

function isStopped(pid: number): boolean {
  // /proc/<pid>/stat: "pid (comm) S …"; T = stopped by a signal.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
}

/**
 * Makes the follower the leader with a fault point armed: restart it armed, step the leader down
 * (a graceful stop releases the lease at once), then start the stepped-down replica again,
 * unarmed, as the follower that takes over once the armed leader freezes and its lease runs out.
 */
async function leaderArmedWith(
  faultPoints: string,
): Promise<{ armed: OrchestratorProcess; follower: OrchestratorProcess; epoch: number }> {
  const current = await cluster.leader();
  const leaderIndex = cluster.replicas.indexOf(current);
  const armedIndex = leaderIndex === 0 ? 1 : 0;
  const armed = await cluster.restartReplica(armedIndex, { CODEYARD_FAULT_POINTS: faultPoints });
  await current.stop();
  const lease = await waitUntil(
    'the armed replica to lead',
    async () => {
      const holder = await cluster.lease();
      if (holder === undefined || !tookLease(armed, holder.epoch)) return undefined;
      return holder;
    },
    phaseTimeoutMs,
  );
  const follower = await cluster.restartReplica(leaderIndex);
  return { armed, follower, epoch: lease.epoch };
}

function tookLease(replica: OrchestratorProcess, epoch: number): boolean {
  return logOf(replica)
    .split('\n')
    .some((line) => line.includes('"became reconciler leader"') && line.includes(`"epoch":${epoch},`));
}

/**
 * Arms the leader with a freeze point and makes it reach the point by creating `name` through the
 * follower. On a loaded machine the armed leader may lose its lease before it gets there (the
 * follower then does the work): arm again, with a fresh codespace, up to `armAttemptsMax` times.
 */
async function frozenLeader(
  point: string,
  name: string,
): Promise<{ armed: OrchestratorProcess; epoch: number; name: string }> {
  for (let attempt = 1; ; attempt += 1) {
    const { armed, follower, epoch } = await leaderArmedWith(`${point}@1:freeze`);
    const attemptName = attempt === 1 ? name : `${name}-${attempt}`;
    await cluster.create(await cluster.clientFor('carol', { via: follower }), attemptName);
    const outcome = await waitUntil(
      `the armed leader to freeze at ${point} (or lose its lease first)`,
      async () => {
        if (logOf(armed).includes(`fault point ${point}: freeze`) && isStopped(armed.pid)) return 'frozen';
        const lease = await cluster.lease();
        return lease !== undefined && lease.epoch > epoch ? 'deposed' : undefined;
      },
      phaseTimeoutMs,
      100,
    ).catch(async (error: unknown) => {
      // Say what the armed leader was doing instead: its warnings, its last lines, and where the
      // codespace it should have acted on stands.
      const lines = logOf(armed)
        .split('\n')
        .filter((l) => l !== '' && !l.includes('"incoming request"'));
      const warnings = lines.filter((l) => /"level":[45]0/.test(l)).slice(-5);
      const stuck = await cluster.admin.get(attemptName).catch((e: unknown) => String(e));
      throw new Error(
        `${String(error)}\n${attemptName}: ${JSON.stringify(stuck)}\narmed leader ${armed.logPath}:\n${[...warnings, ...lines.slice(-5)].join('\n')}`,
      );
    });
    if (outcome === 'frozen') return { armed, epoch, name: attemptName };
    if (attempt >= armAttemptsMax)
      throw new Error(`the armed leader lost its lease ${attempt} times before freezing`);
    console.info(`${point}: the armed leader lost its lease before freezing; arming again`);
  }
}

/** Waits for the follower to take the lease from the frozen leader (once the lease ran out). */
async function takenOverFrom(frozenEpoch: number): Promise<number> {
  const lease = await waitUntil(
    'another replica to take the lease from the frozen leader',
    async () => {
      const current = await cluster.lease();
      return current !== undefined && current.epoch > frozenEpoch ? current : undefined;
    },
    phaseTimeoutMs,
  );
  return lease.epoch;
}

/**
 * Every codespace's resourceVersion, to show that nothing was written meanwhile — except the one
 * with the open session, whose activity the leader records as it comes.
 */
async function versions(): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await cluster.admin.list())
      .filter((c) => c.metadata.name !== session.codespace)
      .map((c) => [c.metadata.name, c.metadata.resourceVersion]),
  );
}

describe('chaos: the leader dies or freezes', () => {
  it(
    'leader-kill9: kill -9 the leader mid-reconcile; the other replica finishes, one container each, sessions flow',
    async () => {
      const leader = await cluster.leader();
      const leaseBefore = (await cluster.lease())!;
      for (let i = 1; i <= burstSize; i += 1) await cluster.create(i % 2 === 0 ? alice : bob, `burst-${i}`);
      // Kill once the leader has started some of the burst, while the rest is still on its way.
      await waitUntil(
        'the leader to start part of the burst',
        async () => {
          const containers = await cluster.monitor.dockerContainers();
          return containers.some((c) => c.name.startsWith('burst-')) ? true : undefined;
        },
        phaseTimeoutMs,
        50,
      );
      const runningAtKill = (await cluster.admin.list()).filter(
        (c) => c.metadata.name.startsWith('burst-') && c.status.phase === 'Running',
      ).length;
      cluster.monitor.sessionsMustFlow = true;
      await leader.kill9();
      const faultEndedAtMs = Date.now();
      console.info(`leader-kill9: killed with ${runningAtKill} of ${burstSize} burst codespaces Running`);
      expect(runningAtKill).toBeLessThan(burstSize);

      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      cluster.monitor.sessionsMustFlow = false;
      const leaseAfter = (await cluster.lease())!;
      expect(leaseAfter.epoch).toBeGreaterThan(leaseBefore.epoch);
      expect(leaseAfter.holder).not.toBe(leaseBefore.holder);
      expect(convergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      expect(session.failuresSince(faultEndedAtMs)).toEqual([]);
      cluster.monitor.assertClean('leader-kill9');
      reportChaosResult('leader-kill9', { convergedInMs, checks: cluster.monitor.checks });
      // Back to two replicas for the next scenarios.
      await cluster.restartReplica(cluster.replicas.indexOf(leader));
    },
    scenarioTimeoutMs,
  );

  it(
    'leader-frozen-write: a leader frozen past its lease resumes into a store write that the Lua epoch fence refuses',
    async () => {
      cluster.monitor.sessionsMustFlow = true;
      const { armed, epoch: frozenEpoch, name } = await frozenLeader('before-store-write', 'late-write');
      const frozenAtMs = Date.now();
      const newEpoch = await takenOverFrom(frozenEpoch);
      await runningPhase(name);
      await cluster.monitor.converged({ faultEndedAtMs: Date.now() });
      const before = await versions();
      await new Promise((resolve) =>
        setTimeout(
          resolve,
          Math.max(0, frozenAtMs + chaosTiming.leaseDurationMs + freezeBeyondLeaseMs - Date.now()),
        ),
      );
      expect(isStopped(armed.pid)).toBe(true);
      cluster.sigcont(armed.pid);
      const faultEndedAtMs = Date.now();

      // Its late write reached Redis and was refused there: the replica logs STALE_EPOCH for it.
      await waitUntil(
        'the resumed replica to log its refused write',
        async () => (/"code":"STALE_EPOCH"/.test(logOf(armed)) ? true : undefined),
        refusalLogTimeoutMs,
      );
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      cluster.monitor.sessionsMustFlow = false;
      // The store holds the new leader's writes only: nothing of the old one landed after its resume.
      expect(await versions()).toEqual(before);
      expect((await cluster.lease())!.epoch).toBe(newEpoch);
      cluster.monitor.assertClean('leader-frozen-write');
      reportChaosResult('leader-frozen-write', { convergedInMs, checks: cluster.monitor.checks });
    },
    scenarioTimeoutMs,
  );

  it(
    'leader-frozen-command: a leader frozen past its lease resumes into an agent command that the node refuses',
    async () => {
      cluster.monitor.sessionsMustFlow = true;
      const { armed, epoch: frozenEpoch, name } = await frozenLeader('before-agent-call', 'late-command');
      const frozenAtMs = Date.now();
      const newEpoch = await takenOverFrom(frozenEpoch);
      await runningPhase(name);
      const placed = await cluster.admin.mustGet(name);
      // The node has accepted the new leader's epoch (its command started the container).
      await waitUntil(
        'the node to report the new epoch',
        async () => {
          const nodes = await cluster.admin.request<{ items: { name: string; highestEpoch: number }[] }>(
            'GET',
            '/v1/nodes',
          );
          const node = nodes.body.items.find((n) => n.name === placed.status.nodeName);
          return node !== undefined && node.highestEpoch >= newEpoch ? true : undefined;
        },
        phaseTimeoutMs,
      );
      await new Promise((resolve) =>
        setTimeout(
          resolve,
          Math.max(0, frozenAtMs + chaosTiming.leaseDurationMs + freezeBeyondLeaseMs - Date.now()),
        ),
      );
      const containerBefore = (await cluster.monitor.dockerContainers()).filter((c) => c.name === name);
      expect(isStopped(armed.pid)).toBe(true);
      cluster.sigcont(armed.pid);
      const faultEndedAtMs = Date.now();

      await waitUntil(
        'the resumed replica to log the refusal of its late command',
        async () => (logOf(armed).includes('node refused a command from an older epoch') ? true : undefined),
        refusalLogTimeoutMs,
      );
      const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs });
      cluster.monitor.sessionsMustFlow = false;
      // The container is the new leader's, untouched by the late command.
      const containerAfter = (await cluster.monitor.dockerContainers()).filter((c) => c.name === name);
      expect(containerAfter).toEqual(containerBefore);
      expect(containerAfter).toHaveLength(1);
      cluster.monitor.assertClean('leader-frozen-command');
      reportChaosResult('leader-frozen-command', { convergedInMs, checks: cluster.monitor.checks });
    },
    scenarioTimeoutMs,
  );
});
