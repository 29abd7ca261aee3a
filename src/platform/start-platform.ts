import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { dockerWorkloadFence, processWorkloadFence } from '../fleet/local/workload-fence.js';
import { LocalFleetProvider } from '../fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../fleet/local/node-launcher.js';
import { ensureImage } from '../images/ensure-image.js';
import { maxContainersPerNodeDefault, resourceDefaults } from '../model/limits.js';
import { dataDirPaths, orchestratorConfigDefaults, type OrchestratorConfig } from '../orchestrator/config.js';
import { localFleetName, resolveFleetJoinSecrets } from '../orchestrator/join-secrets.js';
import { startOrchestrator, type RunningOrchestrator } from '../orchestrator/start-orchestrator.js';
import { issueApiToken } from '../tokens/issue-token.js';
import { dockerAvailable } from './docker-available.js';
import { loadOrCreatePlatformId } from './platform-id.js';
import { waitForNodeHeartbeats } from './wait-for-nodes.js';

export interface PlatformOptions {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Shared Redis; without it the embedded in-memory store (state ends with the process). */
  readonly redisUrl?: string;
  readonly minNodes: number;
  readonly maxNodes: number;
  /** `auto`: Docker when an engine answers, else local processes. */
  readonly runtime: 'auto' | 'docker' | 'process';
  /** The user the printed token is for; an admin of this local platform. */
  readonly user: string;
  /** How long a node must be empty before the autoscaler removes it. */
  readonly scaleInCooldownMs: number;
  readonly logLevel: OrchestratorConfig['logLevel'];
  readonly onProgress: (line: string) => void;
  /**
   * Node names are `<prefix>1`, `<prefix>2`, … Docker labels carry them, so two platforms on one
   * engine need different prefixes or they would fence each other's containers. Default:
   * `local-<id>-` with an id kept in the data directory (see platform-id.ts).
   */
  readonly nodeNamePrefix?: string;
}

export interface RunningPlatform {
  readonly url: string;
  readonly uiUrl: string;
  readonly token: string;
  readonly runtime: 'docker' | 'process';
  readonly orchestrator: RunningOrchestrator;
  readonly fleet: LocalFleetProvider;
  /** Stops nodes (their containers and processes; volumes stay), then the orchestrator. */
  stop(): Promise<void>;
}

/** What each local node advertises: 20 default-sized codespaces (1 cpu, 2 GiB). */
const localNodeCpu = maxContainersPerNodeDefault * resourceDefaults.cpu;
const localNodeMemoryMiB = maxContainersPerNodeDefault * resourceDefaults.memoryMiB;

/** A platform token lasts a working week; `codeyard token` issues others. */
const platformTokenTtlSeconds = 7 * 86_400;

/**
 * The whole system on one machine: the orchestrator (API, web UI, reconciler, autoscaler), a
 * local fleet of node processes (agent + proxy each) and, with Docker, the workspace image.
 */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, 'logs'), { recursive: true });
  const runtime =
    options.runtime === 'auto' ? ((await dockerAvailable()) ? 'docker' : 'process') : options.runtime;
  options.onProgress(
    runtime === 'docker'
      ? 'Docker engine found: codespaces run as containers (VS Code)'
      : 'no Docker engine: codespaces run as local processes (the test workspace server, not VS Code)',
  );
  let image: string | undefined;
  if (runtime === 'docker') {
    options.onProgress('workspace image: checking (the first build takes a few minutes)…');
    const result = await ensureImage('workspace', { onProgress: (line) => options.onProgress(`  ${line}`) });
    image = result.reference;
    options.onProgress(`workspace image: ${result.outcome} ${result.reference}`);
  }

  const logger: Logger = pino(
    { level: options.logLevel, base: { service: 'codeyard-up' } },
    pino.destination({ dest: join(dataDir, 'logs', 'orchestrator.log'), sync: false, mkdir: true }),
  );
  const joinSecrets = await resolveFleetJoinSecrets({
    configured: {},
    path: dataDirPaths(dataDir).joinSecrets,
  });
  const config: OrchestratorConfig = {
    ...orchestratorConfigDefaults,
    host: options.host,
    port: options.port,
    dataDir,
    routingMode: 'path',
    fleetJoinSecrets: joinSecrets,
    logLevel: options.logLevel,
    ...(image ? { defaultImage: image } : {}),
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
  };
  const url = `http://${options.host}:${options.port}`;
  // Set once the orchestrator exists; the fleet calls back only after it started nodes.
  const started: { orchestrator?: RunningOrchestrator } = {};
  const fleet = new LocalFleetProvider({
    fleet: localFleetName,
    minSize: options.minNodes,
    maxSize: options.maxNodes,
    desiredCapacity: options.minNodes,
    dataRoot: join(dataDir, 'nodes'),
    namePrefix:
      options.nodeNamePrefix ?? `local-${await loadOrCreatePlatformId(join(dataDir, 'platform-id'))}-`,
    orchestratorUrl: url,
    joinSecret: joinSecrets[localFleetName]!,
    launcher: processNodeLauncher({
      baseEnv: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DOCKER_HOST: process.env.DOCKER_HOST,
        CODEYARD_RUNTIME: runtime,
        CODEYARD_PROXY_ROUTING_MODE: 'path',
        CODEYARD_LOG_LEVEL: options.logLevel,
        // Local nodes share one machine: each advertises room for its 20 slots of default size
        // (Docker limits are ceilings, not reservations), so placement is bounded by slots, as
        // the autoscaler assumes, rather than by this machine's few cores.
        CODEYARD_NODE_CPU: String(localNodeCpu),
        CODEYARD_NODE_MEMORY_MIB: String(localNodeMemoryMiB),
        ...(image ? { CODEYARD_WORKSPACE_IMAGE: image } : {}),
      },
    }),
    fenceWorkloads: runtime === 'docker' ? dockerWorkloadFence : processWorkloadFence,
    // Without a callback the provider opens no termination hook and kills a node at once;
    // with it, the orchestrator drains the node first (its watcher also sees the pending hook).
    onTerminating: (nodeName) => started.orchestrator?.onTerminating(nodeName),
    logger: logger.child({ component: 'local-fleet' }),
  });
  const orchestrator = await startOrchestrator({
    config,
    logger,
    fleet,
    autoscaler: {
      slotsPerNode: maxContainersPerNodeDefault,
      scaleInCooldownMs: options.scaleInCooldownMs,
      // One knob for a local fleet: "remove a node after it has been idle this long", scale-out or not.
      scaleInAfterScaleOutCooldownMs: options.scaleInCooldownMs,
    },
  });
  started.orchestrator = orchestrator;
  options.onProgress(`orchestrator: listening on ${orchestrator.url}`);
  options.onProgress(`fleet: starting ${options.minNodes} node(s) (up to ${options.maxNodes})…`);
  const fleetStartedMs = Date.now();
  await fleet.start();
  const beating = await waitForNodeHeartbeats(orchestrator.store, {
    count: options.minNodes,
    sinceMs: fleetStartedMs,
  });
  options.onProgress(
    beating
      ? `fleet: ${options.minNodes} node(s) ready`
      : `fleet: not all ${options.minNodes} node(s) have reported yet; see ${join(dataDir, 'nodes')}/<node>/agent.log`,
  );

  const token = await issueApiToken(
    orchestrator.keyRing,
    { user: options.user, role: 'admin' },
    { ttlSeconds: platformTokenTtlSeconds },
  );
  return {
    url: orchestrator.url,
    uiUrl: `${orchestrator.url}/ui/#token=${token}`,
    token,
    runtime,
    orchestrator,
    fleet,
    stop: async () => {
      await fleet.shutdown();
      await orchestrator.stop();
      logger.flush();
    },
  };
}
