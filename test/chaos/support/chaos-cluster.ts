/**
 * The chaos suite's cluster: the real platform as separate processes on this machine, with the
 * means to break it by pid. Reused by every scenario file of `test/chaos` (keep this API stable).
 *
 *   const cluster = await startChaosCluster({ label: 'leader', nodes: 2 });
 *   const alice = await cluster.clientFor('alice');
 *   const codespace = await cluster.create(alice, 'demo');       // acknowledged: must never be lost
 *   const session = await cluster.openSession(alice, 'demo');     // HTTP keep-alive + WebSocket echo
 *   const leader = await cluster.leader();                        // the replica holding the lease
 *   await leader.kill9();                                         // or cluster.sigstop(pid) / sigcont(pid)
 *   const faultEndedAtMs = Date.now();
 *   const convergedInMs = await cluster.monitor.converged({ faultEndedAtMs }); // ≤ 30 s or throws
 *   cluster.monitor.assertClean();                                // continuous invariants held
 *   reportChaosResult('leader-kill9', { convergedInMs, checks: cluster.monitor.checks });
 *   await cluster.close();                                        // every pid, container, volume, dir
 *
 * What runs:
 *   - `redis`: a real `redis-server` with AOF (fsync always): `kill9()` + `restart()` keep the data.
 *   - `replicas`: two orchestrator processes (`OrchestratorProcess`) on that Redis, one data dir
 *     (shared signing keys), short lease and node grace (`chaosTiming`), fleet provider
 *     `local-service`: both fence through the fleet service below, as replicas share one ASG.
 *   - `fleet`: a `LocalFleetProvider` in the test process, served over loopback HTTP with a shared
 *     secret (`src/fleet/local/fleet-service.ts`). Every terminate an orchestrator asks for is
 *     recorded (`fencedByOrchestrator`) and checked at once: a node whose beats still reach its
 *     load balancer must never be fenced.
 *   - nodes: agent (supervised: restarted after it dies, like systemd) + proxy per node; each
 *     node reaches the orchestrators through its own `OrchestratorRelay` (`node.relay.cut()`,
 *     `heal()`, `setHeartbeatHook()` to delay, duplicate or reorder beats).
 *   - `monitor`: the continuous invariant monitor (`invariants.ts`), started by `startChaosCluster`.
 *
 * Isolation: node names start with a random prefix (`cy<label><hex>-`), container host ports come
 * from a random block; `close()` removes exactly this cluster's containers and volumes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { startFleetService, type FleetService } from '../../../src/fleet/local/fleet-service.js';
import { LocalFleetProvider } from '../../../src/fleet/local/local-fleet-provider.js';
import { runtimeWorkloadFence } from '../../../src/fleet/local/workload-fence.js';
import { freeLoopbackPort } from '../../../src/fleet/local/free-port.js';
import type { FleetProvider, TerminationLifecycle } from '../../../src/fleet/fleet-provider.js';
import type { Codespace } from '../../../src/model/codespace.js';
import type { NodeRecord } from '../../../src/model/node.js';
import { DockerRuntime } from '../../../src/node-agent/runtime/docker-runtime.js';
import { labelKeys } from '../../../src/node-agent/runtime/labels.js';
import { dataDirPaths } from '../../../src/orchestrator/config.js';
import { localFleetName } from '../../../src/orchestrator/join-secrets.js';
import { storeKeys } from '../../../src/store/redis/keys.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { loadOrCreateKeyRing } from '../../../src/tokens/key-file.js';
import type { SigningKeyRing } from '../../../src/tokens/signing-keys.js';
import { e2eFleetIsolation, e2eNodeEnvironment, testWorkspaceImage } from '../../support/cluster-harness.js';
import { ApiClient, type ApiResponse, type CodespaceSpecInput } from '../../support/e2e-api.js';
import { E2eDocker } from '../../support/e2e-docker.js';
import { OrchestratorProcess } from '../../support/e2e-orchestrator-process.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { InvariantMonitor } from './invariants.js';
import { LiveSession } from './live-session.js';
import { UpstreamHealth } from './upstream-health.js';
import { supervisedNodeLauncher, type ChaosNodeProcesses } from './supervised-node-launcher.js';

export { testWorkspaceImage };

/** Short timings so a scenario takes seconds; long enough that a loaded CI machine is not fenced. */
export const chaosTiming = {
  heartbeatIntervalMs: 1_000,
  nodeNotReadyAfterMs: 5_000,
  nodeLostGraceMs: 12_000,
  // A loaded CI machine (load average 10) must not make a healthy leader miss its renew deadline.
  leaseDurationMs: 8_000,
  renewDeadlineMs: 6_000,
  renewIntervalMs: 1_000,
  retryPeriodMs: 500,
  storeCallTimeoutMs: 2_000,
  resyncIntervalMs: 5_000,
} as const;
const replicaCountDefault = 2;
const nodesReadyTimeoutMs = 90_000;
const leaseTimeoutMs = 30_000;
const containerPortsPerNode = 40;
const maxContainersPerNodeDefault = 10;
const nodeKillGraceMs = 5_000;
/** Per replica tried: a frozen replica costs this much once, then is tried last (UpstreamHealth). */
const apiRequestTimeoutMs = 3_000;

export interface ChaosClusterOptions {
  /** Lower-case letters, ≤ 8: part of node names and temp dirs. */
  readonly label: string;
  readonly nodes: number;
  readonly replicas?: number;
  readonly maxContainersPerNode?: number;
  /** Extra orchestrator environment for replica `index` (0 = the first started, the first leader). */
  readonly replicaEnv?: (index: number) => Readonly<Record<string, string>>;
  /** Extra agent environment of a node at launch (fault points, DOCKER_HOST, clock offset, …). */
  readonly agentEnvFor?: (nodeName: string) => Readonly<Record<string, string>>;
  /** The Docker engine a node's agent uses, e.g. `unix:///tmp/x/docker.sock`; default the machine's. */
  readonly dockerHostFor?: (nodeName: string) => string | undefined;
}

export interface ChaosCluster {
  readonly label: string;
  readonly dataDir: string;
  readonly nodePrefix: string;
  readonly redis: RedisServer;
  /** Direct Redis access for checks (lease, counters); commands fail while Redis is down. */
  readonly redisClient: Redis;
  /** Index = start order. A replica killed stays in the list (`hasExited()`); `restartReplica` replaces it. */
  readonly replicas: OrchestratorProcess[];
  readonly fleet: LocalFleetProvider;
  readonly fleetService: FleetService;
  readonly monitor: InvariantMonitor;
  readonly keyRing: SigningKeyRing;
  /** An admin client that sends each request to the first live replica that answers. */
  readonly admin: ApiClient;
  /** Terminations the orchestrators asked the fleet for, in order. */
  readonly fencedByOrchestrator: { readonly nodeName: string; readonly atMs: number }[];
  /**
   * A user's client. By default each request goes to the first live replica that answers; `via`
   * pins it to one replica (a create sent to a replica that freezes before answering must not be
   * retried elsewhere by the test, which would see 409).
   */
  clientFor(user: string, options?: { via?: OrchestratorProcess }): Promise<ApiClient>;
  /** Node processes in service, by node name (launched order). */
  nodes(): ChaosNodeProcesses[];
  node(name: string): ChaosNodeProcesses;
  /** Waits until `count` nodes are InService and reported Ready to the orchestrators. */
  waitForNodes(count: number): Promise<string[]>;
  /** Creates a codespace as `client` and acknowledges it to the monitor. */
  create(client: ApiClient, name: string, spec?: CodespaceSpecInput): Promise<Codespace>;
  openSession(client: ApiClient, name: string): Promise<LiveSession>;
  /** The lease in Redis (`epoch:holder`), or undefined (none, or Redis down). */
  lease(): Promise<{ epoch: number; holder: string } | undefined>;
  /** The replica holding the lease, found by the epoch it logged when it took it. */
  leader(): Promise<OrchestratorProcess>;
  restartReplica(index: number, env?: Readonly<Record<string, string>>): Promise<OrchestratorProcess>;
  kill9(pid: number): void;
  sigstop(pid: number): void;
  sigcont(pid: number): void;
  close(): Promise<void>;
}

export async function startChaosCluster(options: ChaosClusterOptions): Promise<ChaosCluster> {
  const docker = new E2eDocker();
  await docker.assertAvailable(testWorkspaceImage);
  const dataDir = mkdtempSync(join(tmpdir(), `codeyard-chaos-${options.label}-`));
  mkdirSync(join(dataDir, 'logs'));
  const nodePrefix = `cy${options.label}${randomBytes(2).toString('hex')}-`;
  const { containerPortBase } = e2eFleetIsolation();
  const joinSecret = randomBytes(24).toString('base64url');
  const fleetSecret = randomBytes(24).toString('base64url');
  const maxContainers = options.maxContainersPerNode ?? maxContainersPerNodeDefault;
  const replicas: OrchestratorProcess[] = [];
  const launched = new Map<string, ChaosNodeProcesses>();
  const fencedByOrchestrator: { nodeName: string; atMs: number }[] = [];
  const engines = new Map<string, Docker>();
  const engineFor = (nodeName: string): Docker => {
    const host = options.dockerHostFor?.(nodeName);
    if (host === undefined) return docker.docker;
    const existing = engines.get(host);
    if (existing) return existing;
    const engine = new Docker({ socketPath: host.replace(/^unix:\/\//, '') });
    engines.set(host, engine);
    return engine;
  };

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const redis = await startRedisServer({ persistence: 'aof' });
    cleanups.push(() => redis.stop());
    const redisClient = new Redis(redis.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    // Redis going away is a scenario, not an error of the harness: reads just fail meanwhile.
    redisClient.on('error', () => undefined);
    await redisClient.connect();
    cleanups.push(async () => redisClient.disconnect());

    const liveUrls = (): string[] => replicas.filter((r) => !r.hasExited()).map((r) => r.url);
    const fleet = new LocalFleetProvider({
      fleet: localFleetName,
      minSize: options.nodes,
      maxSize: options.nodes,
      dataRoot: join(dataDir, 'nodes'),
      // Replaced per node by its relay (see supervisedNodeLauncher).
      orchestratorUrl: 'http://127.0.0.1:9',
      joinSecret,
      namePrefix: nodePrefix,
      containerPortBase,
      containerPortsPerNode,
      killGraceMs: nodeKillGraceMs,
      launcher: supervisedNodeLauncher({
        baseEnv: {
          ...e2eNodeEnvironment('info'),
          CODEYARD_MAX_CONTAINERS: String(maxContainers),
          CODEYARD_HEARTBEAT_INTERVAL_MS: String(chaosTiming.heartbeatIntervalMs),
        },
        upstreams: liveUrls,
        agentEnvFor: (name) => {
          const host = options.dockerHostFor?.(name);
          return { ...(host ? { DOCKER_HOST: host } : {}), ...options.agentEnvFor?.(name) };
        },
        onLaunched: (node) => launched.set(node.name, node),
      }),
      fenceWorkloads: runtimeWorkloadFence(
        (node) => new DockerRuntime({ nodeName: node.name, docker: engineFor(node.name) }),
      ),
    });
    cleanups.push(async () => {
      await fleet.shutdown();
      for (const engine of new Set([docker.docker, ...engines.values()])) {
        await removeClusterWorkloads(engine, nodePrefix);
      }
    });

    // Served to the orchestrators; their terminate calls are the fences the monitor judges.
    const monitorRef: { current?: InvariantMonitor } = {};
    const served: FleetProvider & TerminationLifecycle = {
      fleet: fleet.fleet,
      describe: () => fleet.describe(),
      setDesiredCapacity: (desired) => fleet.setDesiredCapacity(desired),
      terminate: async (nodeName, terminateOptions) => {
        const atMs = Date.now();
        fencedByOrchestrator.push({ nodeName, atMs });
        const lastBeat = launched.get(nodeName)?.relay.lastBeatArrivedAtMs;
        if (lastBeat !== undefined && atMs - lastBeat < chaosTiming.nodeNotReadyAfterMs) {
          monitorRef.current?.violate(
            `healthy node ${nodeName} fenced: its last beat reached the load balancer ${atMs - lastBeat} ms before`,
          );
        }
        await fleet.terminate(nodeName, terminateOptions);
      },
      recordLifecycleActionHeartbeat: (nodeName) => fleet.recordLifecycleActionHeartbeat(nodeName),
      completeLifecycleAction: (nodeName, result) => fleet.completeLifecycleAction(nodeName, result),
      close: async () => undefined,
    };
    const fleetService = await startFleetService({ provider: served, secret: fleetSecret });
    cleanups.push(() => fleetService.close());

    const replicaEnvironment = (index: number): Record<string, string> => ({
      CODEYARD_FLEET_JOIN_SECRETS: `${localFleetName}=${joinSecret}`,
      CODEYARD_FLEET_PROVIDER: 'local-service',
      CODEYARD_FLEET_SERVICE_URL: fleetService.url,
      CODEYARD_FLEET_SERVICE_SECRET: fleetSecret,
      CODEYARD_DEFAULT_IMAGE: testWorkspaceImage,
      CODEYARD_ROUTING_MODE: 'path',
      CODEYARD_RATE_LIMIT_PER_SECOND: '1000',
      CODEYARD_RATE_LIMIT_BURST: '2000',
      CODEYARD_NODE_NOT_READY_AFTER_MS: String(chaosTiming.nodeNotReadyAfterMs),
      CODEYARD_NODE_LOST_GRACE_MS: String(chaosTiming.nodeLostGraceMs),
      CODEYARD_LEADER_LEASE_DURATION_MS: String(chaosTiming.leaseDurationMs),
      CODEYARD_LEADER_RENEW_DEADLINE_MS: String(chaosTiming.renewDeadlineMs),
      CODEYARD_LEADER_RENEW_INTERVAL_MS: String(chaosTiming.renewIntervalMs),
      CODEYARD_LEADER_RETRY_PERIOD_MS: String(chaosTiming.retryPeriodMs),
      CODEYARD_LEADER_STORE_CALL_TIMEOUT_MS: String(chaosTiming.storeCallTimeoutMs),
      CODEYARD_RESYNC_INTERVAL_MS: String(chaosTiming.resyncIntervalMs),
      CODEYARD_LOG_LEVEL: 'info',
      ...options.replicaEnv?.(index),
    });
    const startReplica = async (index: number, extraEnv: Readonly<Record<string, string>> = {}) =>
      OrchestratorProcess.start({
        name: `replica-${index}-${Date.now()}`,
        port: await freeLoopbackPort(),
        dataDir,
        redisUrl: redis.url,
        env: { ...replicaEnvironment(index), ...extraEnv },
        logDir: join(dataDir, 'logs'),
      });
    cleanups.push(async () => {
      for (const replica of replicas) await replica.kill9();
    });

    const lease = async (): Promise<{ epoch: number; holder: string } | undefined> => {
      const value = await redisClient.get(storeKeys().leaderLease).catch(() => null);
      if (value === null) return undefined;
      const separator = value.indexOf(':');
      return { epoch: Number(value.slice(0, separator)), holder: value.slice(separator + 1) };
    };

    // The first replica creates the signing keys in the shared data dir; the others load them.
    const replicaCount = options.replicas ?? replicaCountDefault;
    replicas.push(await startReplica(0));
    await waitUntil('the first replica to take the lease', lease, leaseTimeoutMs);
    for (let index = 1; index < replicaCount; index += 1) replicas.push(await startReplica(index));

    const keyRing = await loadOrCreateKeyRing(dataDirPaths(dataDir).signingKeys);
    const admin = new FailoverApiClient(
      liveUrls,
      await issueApiToken(keyRing, { user: 'chaos-admin', role: 'admin' }),
    );

    const monitor = new InvariantMonitor({
      dockerEngines: () => [...new Set([docker.docker, ...engines.values()])],
      nodePrefix,
      listCodespaces: async () => {
        const response = await admin.request<{ items: Codespace[] }>('GET', '/v1/codespaces?limit=1000');
        return response.status === 200 ? response.body.items : undefined;
      },
      listNodes: async () => {
        const response = await admin.request<{ items: NodeRecord[] }>('GET', '/v1/nodes');
        return response.status === 200 ? response.body.items : undefined;
      },
      liveNodes: async () =>
        (await fleet.describe()).instances
          .filter((i) => i.lifecycle === 'InService')
          .map((i) => ({ name: i.nodeName, dataDir: fleet.nodeSpec(i.nodeName)!.dataDir })),
    });
    monitorRef.current = monitor;
    cleanups.push(() => monitor.stop());

    await fleet.start();
    for (const nodeName of (await fleet.describe()).instances.map((i) => i.nodeName)) engineFor(nodeName);

    const cluster: ChaosCluster = {
      label: options.label,
      dataDir,
      nodePrefix,
      redis,
      redisClient,
      replicas,
      fleet,
      fleetService,
      monitor,
      keyRing,
      admin,
      fencedByOrchestrator,
      clientFor: async (user, clientOptions = {}) => {
        const via = clientOptions.via;
        const token = await issueApiToken(keyRing, { user, role: 'user' });
        return new FailoverApiClient(via ? () => [via.url] : liveUrls, token);
      },
      nodes: () => [...launched.values()].filter((n) => fleet.nodeSpec(n.name) !== undefined),
      node: (name) => {
        const node = launched.get(name);
        if (node === undefined) throw new Error(`no node ${name} in this cluster`);
        return node;
      },
      waitForNodes: async (count) =>
        waitUntil(
          `${count} nodes in service and Ready`,
          async () => {
            const inService = (await fleet.describe()).instances.filter((i) => i.lifecycle === 'InService');
            const response = await admin.request<{ items: NodeRecord[] }>('GET', '/v1/nodes');
            if (response.status !== 200) return undefined;
            const ready = inService.filter((i) =>
              response.body.items.some(
                (n) =>
                  n.name === i.nodeName &&
                  n.ready &&
                  n.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
              ),
            );
            return ready.length >= count ? ready.map((i) => i.nodeName) : undefined;
          },
          nodesReadyTimeoutMs,
        ),
      create: async (client, name, spec = {}) => {
        const codespace = await client.create(name, { image: testWorkspaceImage, ...spec });
        monitor.acknowledge(codespace);
        return codespace;
      },
      openSession: async (client, name) => LiveSession.open(name, await client.access(name)),
      lease,
      leader: async () => {
        const current = await waitUntil('a lease', lease, leaseTimeoutMs);
        const holder = replicas.find((r) => !r.hasExited() && tookLease(r.logPath, current.epoch));
        if (holder === undefined) throw new Error(`no live replica logged taking epoch ${current.epoch}`);
        return holder;
      },
      restartReplica: async (index, env = {}) => {
        await replicas[index]?.kill9();
        replicas[index] = await startReplica(index, env);
        return replicas[index]!;
      },
      kill9: (pid) => process.kill(pid, 'SIGKILL'),
      sigstop: (pid) => process.kill(pid, 'SIGSTOP'),
      sigcont: (pid) => process.kill(pid, 'SIGCONT'),
      close: async () => {
        // A frozen process cannot die of SIGTERM: wake every replica before stopping it.
        for (const replica of replicas)
          if (!replica.hasExited() && replica.pid > 0) process.kill(replica.pid, 'SIGCONT');
        await cleanup();
        if (process.env.CODEYARD_E2E_KEEP_DATA === undefined)
          rmSync(dataDir, { recursive: true, force: true });
      },
    };
    monitor.start();
    return cluster;
  } catch (error) {
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Removes every container and volume labelled with a node of this cluster, in one engine. */
async function removeClusterWorkloads(engine: Docker, nodePrefix: string): Promise<void> {
  const mine = (labels: Record<string, string> | undefined | null) =>
    (labels?.[labelKeys.node] ?? '').startsWith(nodePrefix);
  const containers = await engine.listContainers({
    all: true,
    filters: { label: [`${labelKeys.managed}=true`] },
  });
  for (const c of containers.filter((c) => mine(c.Labels))) {
    await engine
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
  const volumes = await engine.listVolumes({ filters: { label: [`${labelKeys.managed}=true`] } });
  for (const v of (volumes.Volumes ?? []).filter((v) => mine(v.Labels))) {
    await engine
      .getVolume(v.Name)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** True when the replica's log says it became leader at `epoch`. */
function tookLease(logPath: string, epoch: number): boolean {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return false;
  }
  return text
    .split('\n')
    .some((line) => line.includes('"became reconciler leader"') && line.includes(`"epoch":${epoch},`));
}

/** An `ApiClient` in front of every live replica: each request goes to the first one that answers. */
export class FailoverApiClient extends ApiClient {
  private readonly health = new UpstreamHealth();

  constructor(
    private readonly urls: () => readonly string[],
    token: string,
  ) {
    super('http://replicas.invalid', token);
  }

  override async request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    let lastError: unknown = new Error('no live replica');
    for (const url of this.health.order(this.urls())) {
      try {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(apiRequestTimeoutMs),
        });
        const text = await response.text();
        this.health.succeeded(url);
        return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
      } catch (error) {
        // Refused or timed out (killed, frozen): the next replica.
        lastError = error;
        this.health.failed(url);
      }
    }
    throw lastError;
  }
}

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The line docs/reliability.md is built from. */
export function reportChaosResult(
  scenarioId: string,
  result: { convergedInMs: number; checks: number },
): void {
  console.info(`chaos-result ${scenarioId} converged-in-ms=${result.convergedInMs} checks=${result.checks}`);
}
