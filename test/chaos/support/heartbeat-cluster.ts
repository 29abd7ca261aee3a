/**
 * A small real control plane for the heartbeat and clock-skew scenarios: one Redis, one
 * orchestrator process (API + reconciler, fleet provider `none`: nothing is fenced, and the
 * Ready condition is what is judged), and real node agents on Docker, each beating through its
 * own `HeartbeatRelay` so its beats can be captured, replayed and cut. Agents may run with a
 * clock offset (`CODEYARD_CLOCK_OFFSET_MS`) against the orchestrator.
 *
 * Every process is stopped by pid and every container/volume of these nodes removed in `close()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeRecord } from '../../../src/model/node.js';
import { dataDirPaths } from '../../../src/orchestrator/config.js';
import { localFleetName } from '../../../src/orchestrator/join-secrets.js';
import { issueApiToken } from '../../../src/tokens/issue-token.js';
import { loadOrCreateKeyRing } from '../../../src/tokens/key-file.js';
import {
  freeLoopbackPort,
  removeDockerNode,
  spawnAgent,
  testWorkspaceImage,
  type AgentProcess,
} from '../../integration/node-agent-support.js';
import { ApiClient, waitFor } from '../../support/e2e-api.js';
import { OrchestratorProcess } from '../../support/e2e-orchestrator-process.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { spawnNodeProxy, type NodeProxyProcess } from './heartbeat-node-harness.js';
import { startHeartbeatRelay, type HeartbeatRelay } from './heartbeat-relay.js';

export const chaosHeartbeatIntervalMs = 1_000;
/** Short enough for a test, long enough for a loaded CI machine: several beats must go missing. */
export const chaosNodeNotReadyAfterMs = 5_000;
export const proxyActivityReportIntervalMs = 500;
/** A started agent's first accepted beat: seconds, more on a loaded CI machine. */
const nodeJoinTimeoutMs = 60_000;

export interface ClusterNodeOptions {
  label: string;
  /**
   * Host ports for this node's containers. Keep them below the kernel's ephemeral range
   * (32768+ here) and the e2e blocks (20000+): a client socket or a `listen(0)` elsewhere must
   * not hold a pool port (the agent would skip it as busy).
   */
  portRange: { start: number; end: number };
  /** This node's clock against the orchestrator's; 0 by default. */
  clockOffsetMs?: number;
  /** Run the node proxy beside the agent (sessions through it, activity reports). */
  withProxy?: boolean;
  /** Extra agent settings (idle timing, …). */
  agentEnv?: Readonly<Record<string, string>>;
}

export interface ClusterNode {
  readonly name: string;
  readonly relay: HeartbeatRelay;
  readonly dataDir: string;
  agent: AgentProcess;
  readonly proxy: NodeProxyProcess | undefined;
  kill9(): Promise<void>;
  restart(): Promise<void>;
}

export interface HeartbeatCluster {
  readonly redis: RedisServer;
  /** The current orchestrator process (replaced by `restartOrchestrator`). */
  orchestrator: OrchestratorProcess;
  /** kill -9 of the orchestrator, by pid. */
  killOrchestrator(): Promise<void>;
  /** Starts it again: same port, data dir (keys) and Redis. */
  restartOrchestrator(): Promise<void>;
  readonly admin: ApiClient;
  readonly nodes: ClusterNode[];
  /** The admin view of one node (Ready judged on the orchestrator's clock), or undefined. */
  node(name: string): Promise<NodeRecord | undefined>;
  close(): Promise<void>;
}

export async function startHeartbeatCluster(options: {
  label: string;
  nodes: readonly ClusterNodeOptions[];
  orchestratorEnv?: Readonly<Record<string, string>>;
}): Promise<HeartbeatCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), `codeyard-chaos-${options.label}-`));
  mkdirSync(join(dataDir, 'logs'));
  const joinSecret = randomBytes(24).toString('base64url');
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const redis = await startRedisServer({ persistence: 'aof' });
    cleanups.push(() => redis.stop());
    let orchestrator = await OrchestratorProcess.start({
      name: `${options.label}-orchestrator`,
      port: await freeLoopbackPort(),
      dataDir: join(dataDir, 'orchestrator'),
      redisUrl: redis.url,
      logDir: join(dataDir, 'logs'),
      env: {
        CODEYARD_FLEET_JOIN_SECRETS: `${localFleetName}=${joinSecret}`,
        CODEYARD_FLEET_PROVIDER: 'none',
        CODEYARD_DEFAULT_IMAGE: testWorkspaceImage,
        CODEYARD_NODE_NOT_READY_AFTER_MS: String(chaosNodeNotReadyAfterMs),
        CODEYARD_RATE_LIMIT_PER_SECOND: '1000',
        CODEYARD_RATE_LIMIT_BURST: '2000',
        CODEYARD_LOG_LEVEL: 'warn',
        ...options.orchestratorEnv,
      },
    });
    cleanups.push(() => orchestrator.stop());
    const orchestratorUrl = orchestrator.url;
    const keyRing = await loadOrCreateKeyRing(dataDirPaths(join(dataDir, 'orchestrator')).signingKeys);
    const admin = new ApiClient(
      orchestrator.url,
      await issueApiToken(keyRing, { user: 'chaos-admin', role: 'admin' }),
    );
    const nodes: ClusterNode[] = [];
    for (const nodeOptions of options.nodes) {
      const name = `chaos-${nodeOptions.label}-${process.pid}`;
      const relay = await startHeartbeatRelay({ upstreamUrl: () => orchestratorUrl });
      cleanups.push(() => relay.close());
      const nodeDataDir = join(dataDir, 'nodes', name);
      const agentPort = await freeLoopbackPort();
      const proxyPort = nodeOptions.withProxy ? await freeLoopbackPort() : undefined;
      const proxyUrl = proxyPort === undefined ? undefined : `http://127.0.0.1:${proxyPort}`;
      const env = {
        HOME: process.env.HOME ?? '/tmp',
        CODEYARD_NODE_NAME: name,
        CODEYARD_FLEET: localFleetName,
        CODEYARD_NODE_DATA_DIR: nodeDataDir,
        CODEYARD_AGENT_PORT: String(agentPort),
        CODEYARD_ORCHESTRATOR_URL: relay.url,
        CODEYARD_JOIN_SECRET: joinSecret,
        CODEYARD_RUNTIME: 'docker',
        CODEYARD_PORT_RANGE: `${nodeOptions.portRange.start}-${nodeOptions.portRange.end}`,
        CODEYARD_MAX_CONTAINERS: String(
          Math.min(4, nodeOptions.portRange.end - nodeOptions.portRange.start + 1),
        ),
        CODEYARD_WORKSPACE_IMAGE: testWorkspaceImage,
        CODEYARD_HEARTBEAT_INTERVAL_MS: String(chaosHeartbeatIntervalMs),
        CODEYARD_CLOCK_OFFSET_MS: String(nodeOptions.clockOffsetMs ?? 0),
        CODEYARD_LOG_LEVEL: 'warn',
        ...(proxyUrl
          ? { CODEYARD_PROXY_URL: proxyUrl, CODEYARD_PROXY_HEALTH_URL: `${proxyUrl}/healthz` }
          : {}),
        ...nodeOptions.agentEnv,
      };
      const agent = await spawnAgent(env);
      cleanups.push(async () => {
        await node.agent.kill('SIGKILL');
        removeDockerNode(name);
      });
      const proxy =
        proxyPort === undefined
          ? undefined
          : await spawnNodeProxy({
              nodeName: name,
              dataDir: nodeDataDir,
              port: proxyPort,
              orchestratorUrl: relay.url,
              agentUrl: agent.url,
              activityReportIntervalMs: proxyActivityReportIntervalMs,
            });
      if (proxy) cleanups.push(() => proxy.kill());
      const node: ClusterNode = {
        name,
        relay,
        dataDir: nodeDataDir,
        proxy,
        agent,
        kill9: () => node.agent.kill('SIGKILL'),
        restart: async () => {
          node.agent = await spawnAgent(env);
        },
      };
      nodes.push(node);
    }
    const cluster: HeartbeatCluster = {
      redis,
      orchestrator,
      killOrchestrator: () => cluster.orchestrator.kill9(),
      restartOrchestrator: async () => {
        cluster.orchestrator = await OrchestratorProcess.start(cluster.orchestrator.options);
        orchestrator = cluster.orchestrator;
      },
      admin,
      nodes,
      node: async (name) => {
        const answer = await admin.request<{ items: NodeRecord[] }>('GET', '/v1/nodes');
        if (answer.status !== 200) throw new Error(`GET /v1/nodes answered ${answer.status}`);
        return answer.body.items.find((n) => n.name === name);
      },
      close: closeAll,
    };
    // Started means joined: every node registered and Ready before a scenario begins, so that a
    // monitor sampling from the first second never mistakes a slow first beat for a fault.
    for (const node of nodes) {
      await waitFor(
        `${node.name} to join`,
        async () => (isReady(await cluster.node(node.name)) ? true : undefined),
        {
          timeoutMs: nodeJoinTimeoutMs,
        },
      );
    }
    return cluster;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Whether the admin view says Ready=True. */
export function isReady(node: NodeRecord | undefined): boolean {
  return node?.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
