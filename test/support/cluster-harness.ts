/**
 * A whole codeyard cluster for end-to-end tests, in the test process: a real `redis-server`, one
 * orchestrator replica (API, reconciler, termination-hook drain, optional autoscaler) and a
 * `LocalFleetProvider` spawning real node agent + node proxy processes that run real Docker
 * containers of the test workspace image. Timings are short so a test takes seconds, not minutes.
 *
 * Isolation: node names carry a random prefix (`e2e<hex>-1`, …) and container host ports a random
 * block, so several clusters (and other engineers' tests) can share the Docker engine; `stop()`
 * removes every container and volume of this cluster's nodes and of every uid the test saw.
 *
 *   const cluster = await startCluster({ minNodes: 1, maxNodes: 1 });
 *   const alice = await cluster.clientFor('alice');
 *   await alice.create('demo', { image: testWorkspaceImage });
 *   await cluster.stop();
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AutoscalerOptions } from '../../src/fleet/autoscaler-policy.js';
import { LocalFleetProvider } from '../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../src/fleet/local/node-launcher.js';
import { dockerWorkloadFence } from '../../src/fleet/local/workload-fence.js';
import type { Codespace } from '../../src/model/codespace.js';
import { resourceDefaults } from '../../src/model/limits.js';
import { orchestratorConfigDefaults, type OrchestratorConfig } from '../../src/orchestrator/config.js';
import { localFleetName } from '../../src/orchestrator/join-secrets.js';
import { startOrchestrator, type RunningOrchestrator } from '../../src/orchestrator/start-orchestrator.js';
import { issueApiToken } from '../../src/tokens/issue-token.js';
import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { ApiClient } from './e2e-api.js';
import { E2eDocker } from './e2e-docker.js';

export const testWorkspaceImage = 'codeyard/test-workspace:latest';
/** Node agents beat this often: the reconciler sees a started container within a second or two. */
export const e2eHeartbeatIntervalMs = 1_000;
export const e2eMaxContainersPerNode = 20;
/** Per-node block of container host ports (≥ max containers per node). */
const containerPortsPerNode = 40;
/** Random port blocks are drawn from [base, base + span); each cluster takes up to 10 nodes' worth. */
const containerPortBaseMin = 20_000;
const containerPortBaseSpanBlocks = 400;
const nodeKillGraceMs = 5_000;

export interface ClusterOptions {
  readonly minNodes: number;
  readonly maxNodes: number;
  /** Initial desired capacity; default `minNodes`. */
  readonly desiredNodes?: number;
  /** Run the autoscaler loop with these options (slots per node is the agents' limit). */
  readonly autoscaler?: Omit<AutoscalerOptions, 'slotsPerNode'> & { intervalMs?: number };
  readonly logLevel?: OrchestratorConfig['logLevel'];
}

export interface Cluster {
  readonly url: string;
  readonly redis: RedisServer;
  readonly orchestrator: RunningOrchestrator;
  readonly fleet: LocalFleetProvider;
  readonly docker: E2eDocker;
  readonly dataDir: string;
  /** Every node of this cluster is named `<nodePrefix><n>`. */
  readonly nodePrefix: string;
  /** An admin client: sees every codespace. */
  readonly admin: ApiClient;
  clientFor(user: string): Promise<ApiClient>;
  /** Remember a codespace's uid so `stop()` removes its container and volume whatever happens. */
  track(codespace: Codespace): void;
  /** Stops nodes, orchestrator and Redis; removes containers, volumes and the data dir. */
  stop(): Promise<void>;
}

/** Common settings of a node agent + proxy process in these tests. */
export function e2eNodeEnvironment(logLevel: string): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: process.env.DOCKER_HOST,
    CODEYARD_RUNTIME: 'docker',
    CODEYARD_PROXY_ROUTING_MODE: 'path',
    CODEYARD_LOG_LEVEL: logLevel,
    CODEYARD_WORKSPACE_IMAGE: testWorkspaceImage,
    CODEYARD_HEARTBEAT_INTERVAL_MS: String(e2eHeartbeatIntervalMs),
    CODEYARD_MAX_CONTAINERS: String(e2eMaxContainersPerNode),
    // Room for a full node of default-sized codespaces (1 cpu, 2 GiB each): slots are the only
    // limit, as the autoscaler assumes. Docker limits are ceilings, not reservations, so this fits.
    CODEYARD_NODE_CPU: String(e2eMaxContainersPerNode * resourceDefaults.cpu),
    CODEYARD_NODE_MEMORY_MIB: String(e2eMaxContainersPerNode * resourceDefaults.memoryMiB),
  };
}

/** A random prefix and port block, so clusters sharing the engine never touch each other's containers. */
export function e2eFleetIsolation(): { nodePrefix: string; containerPortBase: number } {
  return {
    nodePrefix: `e2e${randomBytes(3).toString('hex')}-`,
    containerPortBase:
      containerPortBaseMin +
      Math.floor(Math.random() * (containerPortBaseSpanBlocks - 10)) * containerPortsPerNode,
  };
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const docker = new E2eDocker();
  await docker.assertAvailable(testWorkspaceImage);
  const logLevel = options.logLevel ?? 'info';
  const dataDir = await mkdtemp(join(tmpdir(), 'codeyard-e2e-'));
  const { nodePrefix, containerPortBase } = e2eFleetIsolation();
  const uids = new Set<string>();
  const redis = await startRedisServer();
  const port = await freeLoopbackPort('127.0.0.1');
  const joinSecret = randomBytes(24).toString('base64url');
  const logger = pino(
    { level: logLevel, base: { service: 'e2e-orchestrator' } },
    pino.destination({ dest: join(dataDir, 'orchestrator.log'), sync: true }),
  );
  const config: OrchestratorConfig = {
    ...orchestratorConfigDefaults,
    host: '127.0.0.1',
    port,
    dataDir,
    redisUrl: redis.url,
    defaultImage: testWorkspaceImage,
    routingMode: 'path',
    fleetJoinSecrets: { [localFleetName]: joinSecret },
    // Many codespaces per test from a few tokens: the API's rate limit is not under test here.
    rateLimitPerSecond: 1_000,
    rateLimitBurst: 2_000,
    logLevel,
  };
  let orchestrator: RunningOrchestrator | undefined;
  const fleet = new LocalFleetProvider({
    fleet: localFleetName,
    minSize: options.minNodes,
    maxSize: options.maxNodes,
    desiredCapacity: options.desiredNodes ?? options.minNodes,
    dataRoot: join(dataDir, 'nodes'),
    orchestratorUrl: `http://127.0.0.1:${port}`,
    joinSecret,
    namePrefix: nodePrefix,
    containerPortBase,
    containerPortsPerNode,
    killGraceMs: nodeKillGraceMs,
    launcher: processNodeLauncher({ baseEnv: e2eNodeEnvironment(logLevel) }),
    fenceWorkloads: dockerWorkloadFence,
    // Opens the termination lifecycle hook: the orchestrator drains the node, then completes it.
    onTerminating: (nodeName) => orchestrator?.onTerminating(nodeName),
    logger: logger.child({ component: 'local-fleet' }),
  });
  const cleanup = async (): Promise<void> => {
    await fleet.shutdown().catch(() => undefined);
    await orchestrator?.stop().catch(() => undefined);
    await redis.stop().catch(() => undefined);
    await docker.removeAll({ nodePrefix, uids });
    logger.flush();
    if (process.env.CODEYARD_E2E_KEEP_DATA === undefined) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    orchestrator = await startOrchestrator({
      config,
      logger,
      fleet,
      processMetrics: false,
      reconciler: {
        config: { unschedulableRetryMs: 1_000, reportRecheckMs: 500 },
        timing: { nodePollIntervalMs: 250, resyncIntervalMs: 5_000 },
        electorTiming: { retryPeriodMs: 250 },
      },
      ...(options.autoscaler
        ? { autoscaler: { ...options.autoscaler, slotsPerNode: e2eMaxContainersPerNode } }
        : {}),
    });
    await fleet.start();
  } catch (error) {
    await cleanup();
    throw error;
  }
  const running = orchestrator;
  const admin = new ApiClient(
    running.url,
    await issueApiToken(running.keyRing, { user: 'e2e-admin', role: 'admin' }),
  );
  return {
    url: running.url,
    redis,
    orchestrator: running,
    fleet,
    docker,
    dataDir,
    nodePrefix,
    admin,
    clientFor: async (user) =>
      new ApiClient(running.url, await issueApiToken(running.keyRing, { user, role: 'user' })),
    track: (codespace) => void uids.add(codespace.metadata.uid),
    stop: cleanup,
  };
}
