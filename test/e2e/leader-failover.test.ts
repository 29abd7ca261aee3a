import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
import { LocalFleetProvider } from '../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../src/fleet/local/node-launcher.js';
import { dockerWorkloadFence } from '../../src/fleet/local/workload-fence.js';
import type { Codespace } from '../../src/model/codespace.js';
import { dataDirPaths } from '../../src/orchestrator/config.js';
import { localFleetName } from '../../src/orchestrator/join-secrets.js';
import { storeKeys } from '../../src/store/redis/keys.js';
import { issueApiToken } from '../../src/tokens/issue-token.js';
import { loadOrCreateKeyRing } from '../../src/tokens/key-file.js';
import { e2eFleetIsolation, e2eNodeEnvironment, testWorkspaceImage } from '../support/cluster-harness.js';
import { ApiClient, phaseCounts, waitFor } from '../support/e2e-api.js';
import { E2eDocker } from '../support/e2e-docker.js';
import { OrchestratorProcess } from '../support/e2e-orchestrator-process.js';
import { ClusterSampler } from '../support/e2e-sampler.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Reconciler Must-show #2: two orchestrator replicas (real processes, one Redis, one data dir so
 * both sign and verify with the same keys) and three real nodes. 50 codespaces are created; while
 * the leader is placing and starting them it is killed with SIGKILL; the other replica takes the
 * lease (after it expires: 15 s by default) and finishes the job. Every codespace ends Running in
 * exactly one container; Docker is sampled every second for duplicates.
 *
 * Nodes heartbeat to one orchestrator URL. They are pointed at replica B, the one that survives:
 * A is started first, so A takes the lease and is the leader we kill. A non-leading replica still
 * stores heartbeats in Redis (the leader reads them from there) and answers them with epoch 0 and
 * no assignments, which agents ignore; the leader's commands go from it straight to the agents.
 * A relay in front of both would model a load balancer, but adds a moving part the test does not need.
 */
const users = ['ken', 'barbara', 'margaret', 'donald', 'frances'];
const codespacesPerUser = 10;
const codespaceCount = users.length * codespacesPerUser;
const nodeCount = 3;
const leaseWaitTimeoutMs = 30_000;
const allRunningTimeoutMs = 180_000;
const testTimeoutMs = 420_000;
/** Kill the leader once this many containers it started exist, so it dies mid-work. */
const containersBeforeKill = 3;
/** …and while at least this many are not yet Running. */
const unfinishedAtKillMin = 10;

let redis: RedisServer;
let redisClient: Redis;
let dataDir: string;
let replicaA: OrchestratorProcess | undefined;
let replicaB: OrchestratorProcess | undefined;
let fleet: LocalFleetProvider | undefined;
let sampler: ClusterSampler | undefined;
const docker = new E2eDocker();
const { nodePrefix, containerPortBase } = e2eFleetIsolation();
const uids = new Set<string>();
const leaseKey = storeKeys().leaderLease;

async function lease(): Promise<{ epoch: number; holder: string } | undefined> {
  const value = await redisClient.get(leaseKey);
  if (value === null) return undefined;
  const separator = value.indexOf(':');
  return { epoch: Number(value.slice(0, separator)), holder: value.slice(separator + 1) };
}

beforeAll(async () => {
  await docker.assertAvailable(testWorkspaceImage);
  redis = await startRedisServer();
  redisClient = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redisClient.connect();
  dataDir = await mkdtemp(join(tmpdir(), 'codeyard-e2e-failover-'));
  await mkdir(join(dataDir, 'logs'));
});

afterAll(async () => {
  await sampler?.stop();
  await fleet?.shutdown().catch(() => undefined);
  await replicaA?.kill9();
  await replicaB?.stop();
  redisClient?.disconnect();
  await redis?.stop();
  await docker.removeAll({ nodePrefix, uids });
  if (dataDir && process.env.CODEYARD_E2E_KEEP_DATA === undefined)
    await rm(dataDir, { recursive: true, force: true });
});

describe('leader failover with real orchestrator processes', () => {
  it(
    'finishes 50 codespaces after the leader is killed mid-work: all Running, one container each',
    async () => {
      const joinSecret = randomBytes(24).toString('base64url');
      const env = {
        CODEYARD_FLEET_JOIN_SECRETS: `${localFleetName}=${joinSecret}`,
        CODEYARD_FLEET_PROVIDER: 'none',
        CODEYARD_DEFAULT_IMAGE: testWorkspaceImage,
        CODEYARD_RATE_LIMIT_PER_SECOND: '1000',
        CODEYARD_RATE_LIMIT_BURST: '2000',
        CODEYARD_LOG_LEVEL: 'info',
      };
      const common = { dataDir, redisUrl: redis.url, env, logDir: join(dataDir, 'logs') };
      replicaA = await OrchestratorProcess.start({
        ...common,
        name: 'replica-a',
        port: await freeLoopbackPort(),
      });
      const leaseOfA = await waitFor('replica A to take the lease', lease, { timeoutMs: leaseWaitTimeoutMs });
      // B starts after A created the signing keys in the shared data dir, so it loads the same ones.
      replicaB = await OrchestratorProcess.start({
        ...common,
        name: 'replica-b',
        port: await freeLoopbackPort(),
      });
      expect(await lease()).toEqual(leaseOfA);

      const keyRing = await loadOrCreateKeyRing(dataDirPaths(dataDir).signingKeys);
      const adminToken = await issueApiToken(keyRing, { user: 'e2e-admin', role: 'admin' });
      const adminB = new ApiClient(replicaB.url, adminToken);

      fleet = new LocalFleetProvider({
        fleet: localFleetName,
        minSize: nodeCount,
        maxSize: nodeCount,
        dataRoot: join(dataDir, 'nodes'),
        orchestratorUrl: replicaB.url,
        joinSecret,
        namePrefix: nodePrefix,
        containerPortBase,
        containerPortsPerNode: 40,
        killGraceMs: 5_000,
        launcher: processNodeLauncher({ baseEnv: e2eNodeEnvironment('info') }),
        fenceWorkloads: dockerWorkloadFence,
      });
      await fleet.start();
      await waitFor(
        `${nodeCount} nodes reporting`,
        async () => {
          const nodes = await adminB.request<{ items: unknown[] }>('GET', '/v1/nodes');
          return nodes.status === 200 && nodes.body.items.length === nodeCount ? true : undefined;
        },
        { timeoutMs: allRunningTimeoutMs },
      );
      sampler = new ClusterSampler({ docker, nodePrefix, admin: adminB, fleet });
      sampler.start();

      // 50 codespaces, half the requests through each replica: every replica serves the API.
      const created: Codespace[] = [];
      for (const [index, user] of users.entries()) {
        const token = await issueApiToken(keyRing, { user, role: 'user' });
        const client = new ApiClient(index % 2 === 0 ? replicaA.url : replicaB.url, token);
        for (let i = 1; i <= codespacesPerUser; i += 1) {
          const codespace = await client.create(`${user}-${i}`, { image: testWorkspaceImage });
          uids.add(codespace.metadata.uid);
          created.push(codespace);
        }
      }

      // The leader dies mid-work: a few containers it started exist, the rest are still on their way.
      // Containers appear in Docker before heartbeats report them: trigger on Docker, not on phases.
      await waitFor(
        `replica A to start ${containersBeforeKill} containers`,
        async () => ((await docker.containers(nodePrefix)).length >= containersBeforeKill ? true : undefined),
        { timeoutMs: allRunningTimeoutMs, intervalMs: 100 },
      );
      const atKill = phaseCounts(await adminB.list());
      const containersAtKill = (await docker.containers(nodePrefix)).length;
      expect((await lease())?.holder).toBe(leaseOfA.holder);
      await replicaA.kill9();
      console.info(
        `leader killed with ${containersAtKill} containers started and phases ${JSON.stringify(atKill)}`,
      );
      expect(atKill.Running ?? 0).toBeLessThanOrEqual(codespaceCount - unfinishedAtKillMin);

      const leaseOfB = await waitFor(
        'replica B to take over the lease',
        async () => {
          const current = await lease();
          return current && current.holder !== leaseOfA.holder ? current : undefined;
        },
        { timeoutMs: leaseWaitTimeoutMs },
      );
      expect(leaseOfB.epoch).toBeGreaterThan(leaseOfA.epoch);

      const running = await waitFor(
        `all ${codespaceCount} codespaces Running under replica B`,
        async () => {
          const all = await adminB.list();
          return all.length === codespaceCount && all.every((c) => c.status.phase === 'Running')
            ? all
            : undefined;
        },
        {
          timeoutMs: allRunningTimeoutMs,
          describe: async () => JSON.stringify(phaseCounts(await adminB.list())),
        },
      );
      await sampler.stop();

      // None lost, none doubled: exactly one running container per codespace, where status says.
      expect(new Set(running.map((c) => c.metadata.uid))).toEqual(
        new Set(created.map((c) => c.metadata.uid)),
      );
      const containers = await docker.containers(nodePrefix);
      expect(containers).toHaveLength(codespaceCount);
      for (const codespace of running) {
        const mine = containers.filter((c) => c.uid === codespace.metadata.uid);
        expect(mine, codespace.metadata.name).toHaveLength(1);
        expect(mine[0]).toMatchObject({
          state: 'running',
          node: codespace.status.nodeName,
          name: codespace.metadata.name,
        });
        expect(codespace.status.observedGeneration).toBe(codespace.metadata.generation);
      }
      expect(sampler.violations).toEqual([]);
      expect(sampler.failed).toEqual(new Map());
      expect((await lease())?.holder).toBe(leaseOfB.holder);
    },
    testTimeoutMs,
  );
});
