import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { JSONWebKeySet } from 'jose';
import pino, { type Logger } from 'pino';
import { CachedKeySet } from '../tokens/cached-key-set.js';
import { buildAgentApp } from './agent-app.js';
import { rebuildFromRuntime, refreshFromRuntime } from './agent-sync.js';
import type { AgentConfig } from './config.js';
import { convergeToAssignments } from './converge.js';
import { EpochStore } from './epoch-store.js';
import { buildHeartbeat } from './heartbeat-body.js';
import { HeartbeatClient } from './heartbeat-client.js';
import { IdleMonitor } from './idle-monitor.js';
import { LocalKv } from './local-kv.js';
import { NodeAgent } from './node-agent.js';
import { PortPool } from './port-pool.js';
import { loadOrCreateProxySecret } from './proxy-secret.js';
import { chooseRuntime } from './runtime/choose-runtime.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';

export interface RunningAgent {
  app: FastifyInstance;
  agent: NodeAgent;
  runtime: ContainerRuntime;
  kv: LocalKv;
  ports: PortPool;
  heartbeats: HeartbeatClient | undefined;
  idle: IdleMonitor;
  /** Base URL the API listens on. */
  url: string;
  close(): Promise<void>;
}

export interface StartAgentOptions {
  /** Keys installed directly instead of fetched (tests, static setups). */
  keys?: JSONWebKeySet;
  logger?: Logger;
  /** Override the runtime choice (tests hand in one). */
  runtime?: ContainerRuntime;
}

async function joinSecretOf(config: AgentConfig): Promise<string | undefined> {
  if (config.joinSecret) return config.joinSecret;
  if (config.joinSecretFile) return (await readFile(config.joinSecretFile, 'utf8')).trim();
  return undefined;
}

/** Wires one node agent: runtime, rebuilt state, HTTP API, idle monitor and heartbeats. */
export async function startAgent(
  config: AgentConfig,
  options: StartAgentOptions = {},
): Promise<RunningAgent> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { node: config.nodeName } });
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const runtime =
    options.runtime ??
    (await chooseRuntime({
      mode: config.runtime,
      nodeName: config.nodeName,
      dataDir: config.dataDir,
      pidsLimit: config.pidsLimit,
      processBaseEnv: config.processBaseEnv,
      logger,
      ...(config.processCommand ? { processCommand: config.processCommand } : {}),
    }));
  const ports = new PortPool(config.portRange);
  const kv = new LocalKv({
    dataDir: config.dataDir,
    nodeName: config.nodeName,
    freePorts: () => ports.freePorts(),
  });
  const epochs = new EpochStore(join(config.dataDir, 'highest-epoch'));
  await epochs.load();
  let heartbeats: HeartbeatClient | undefined;
  // The node's wall clock: the host's, shifted only by the test-only skew setting.
  const nowMs = () => Date.now() + config.clockOffsetMs;
  const agent = new NodeAgent({
    nodeName: config.nodeName,
    runtime,
    ports,
    kv,
    epochs,
    maxContainers: config.maxContainers,
    logger,
    nowMs,
    onChange: () => heartbeats?.poke(),
  });
  const sync = { runtime, ports, kv, agent, logger };
  await rebuildFromRuntime(sync);

  let keySet: CachedKeySet | undefined;
  if (!options.keys) {
    keySet = new CachedKeySet({ url: config.jwksUrl, cacheFile: join(config.dataDir, 'jwks.json') });
    await keySet.start();
  }
  const app = await buildAgentApp({
    agent,
    keys: options.keys ?? keySet!.getKey,
    proxySecret: await loadOrCreateProxySecret(config.dataDir),
    runtimeKind: runtime.kind,
    refresh: () => refreshFromRuntime(sync),
    logger,
  });
  const address = await app.listen({ host: config.agentHost, port: config.agentPort });

  const idle = new IdleMonitor({
    agent,
    logger,
    intervalMs: config.idleCheckIntervalMs,
    policy: { msPerIdleSecond: config.idleMsPerSecond },
    nowMs,
  });
  idle.start();
  const joinSecret = await joinSecretOf(config);
  if (joinSecret) {
    const bootId = randomUUID();
    heartbeats = new HeartbeatClient({
      orchestratorUrl: config.orchestratorUrl,
      nodeName: config.nodeName,
      joinSecret,
      intervalMs: config.heartbeatIntervalMs,
      logger,
      nowMs,
      build: () =>
        buildHeartbeat({
          agent,
          runtime,
          fleet: config.fleet,
          bootId,
          agentUrl: config.agentUrl,
          proxyUrl: config.proxyUrl,
          capacity: { slots: config.maxContainers, cpu: config.nodeCpu, memoryMiB: config.nodeMemoryMiB },
          workspaceImage: config.workspaceImage,
          ...(config.proxyHealthUrl ? { proxyHealthUrl: config.proxyHealthUrl } : {}),
          refresh: () => refreshFromRuntime(sync),
        }),
      onResponse: async (response) => {
        if (response.assignments && response.epoch !== undefined) {
          const options = { agent, logger, graceMs: config.assignmentGraceMs, nowMs };
          await convergeToAssignments(options, response.assignments, response.epoch);
        }
      },
    });
    heartbeats.start();
  } else {
    logger.warn('no join secret configured: heartbeats are off');
  }
  logger.info({ address, runtime: runtime.kind, dataDir: config.dataDir }, 'node agent listening');

  return {
    app,
    agent,
    runtime,
    kv,
    ports,
    heartbeats,
    idle,
    url: address,
    async close() {
      await app.close();
      agent.close();
      await idle.stop();
      await heartbeats?.stop();
      keySet?.stop();
      await kv.flush().catch(() => undefined);
    },
  };
}
