/**
 * One real node for node-level chaos scenarios: the node agent and the node proxy as OS processes
 * on the machine's Docker engine, beating against a fake orchestrator that serves the JWKS and
 * records every heartbeat. No Redis, no reconciler: the scenarios here are about what a node does
 * on its own (idle stops racing activity, its port pool across a crash).
 *
 * Everything is stopped by pid and every container and volume labelled with this node's name is
 * removed in `close()`, also when a test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import type { EnsureRunningRequest } from '../../../src/model/agent-protocol.js';
import type { ContainerState, Heartbeat } from '../../../src/model/node.js';
import { parseLocalKv, type LocalKvDocument } from '../../../src/node-agent/local-kv-format.js';
import { labelKeys } from '../../../src/node-agent/runtime/labels.js';
import {
  generateSigningKey,
  issueAccessToken,
  issueAgentToken,
  nodeAudience,
  SigningKeyRing,
} from '../../../src/tokens/index.js';
import {
  aSpec,
  freeLoopbackPort,
  removeDockerNode,
  spawnAgent,
  startFakeOrchestrator,
  testWorkspaceImage,
  waitForHttp,
  type AgentProcess,
  type FakeOrchestrator,
} from '../../integration/node-agent-support.js';

const repositoryRoot = new URL('../../..', import.meta.url).pathname;
const proxyReadyTimeoutMs = 60_000;
const proxyRequestTimeoutMs = 5_000;

export interface BeatingNodeOptions {
  /** Short label; the node is named `chaos-<label>-<pid>` so cleanup touches only its containers. */
  label: string;
  /** Container host ports: below the ephemeral range and the e2e blocks (see heartbeat-cluster.ts). */
  portRange: { start: number; end: number };
  maxContainers: number;
  /** How many ms one second of `idleTimeoutSeconds` lasts on this node (1000 in production). */
  idleMsPerSecond: number;
  idleCheckIntervalMs: number;
  heartbeatIntervalMs: number;
  /** Start a node proxy beside the agent (sessions, activity reports). */
  withProxy: boolean;
  activityReportIntervalMs?: number;
  /** Extra agent settings, e.g. `CODEYARD_FAULT_POINTS` or a clock offset. */
  agentEnv?: Readonly<Record<string, string>>;
}

/** One container of this node as Docker reports it (the truth the invariants are judged on). */
export interface DockerView {
  /** Docker's container id: a recreated container has a new one. */
  id: string;
  uid: string;
  state: ContainerState | 'created' | 'paused' | 'restarting' | 'removing' | 'dead';
  /** The host port label; a container without a running state binds nothing. */
  hostPort: number;
}

export interface ProxyAnswer {
  status: number;
  body: string;
}

export interface BeatingNode {
  readonly name: string;
  readonly dataDir: string;
  readonly orchestrator: FakeOrchestrator;
  readonly proxyUrl: string | undefined;
  agent: AgentProcess;
  /** Sends a command to the agent with a valid token of `epoch` (default 1). */
  command(
    method: string,
    path: string,
    options?: { epoch?: number; body?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  ensureBody(name: string, generation: number, idleTimeoutSeconds: number): EnsureRunningRequest;
  /** The agent's local KV as the proxy reads it (undefined before the first write). */
  readKv(): LocalKvDocument | undefined;
  /** This node's containers, from Docker itself. */
  dockerView(): Promise<DockerView[]>;
  /** An access session through the proxy: returns the cookie to send with later requests. */
  openSession(codespace: string): Promise<string>;
  /** GET `/cs/<codespace><path>` through the proxy with a session cookie. */
  proxyGet(codespace: string, path: string, cookie: string): Promise<ProxyAnswer>;
  /** Heartbeats this node sent, oldest first. */
  beats(): Heartbeat[];
  /**
   * Arms a crash: kill -9 of the agent the moment Docker reports `action` for `uid`'s container
   * (`create`: after the port was allocated and the KV written, before the start; `start`: before
   * the agent recorded it). Resolves once armed; `crashed` resolves after the kill.
   */
  crashAgentOnContainerEvent(action: 'create' | 'start', uid: string): Promise<{ crashed: Promise<void> }>;
  /** kill -9 of the agent process, by pid. */
  kill9Agent(): Promise<void>;
  /** Starts the agent again with the same name, data dir, ports and settings (plus `extraEnv`). */
  restartAgent(options?: { extraEnv?: Readonly<Record<string, string>> }): Promise<void>;
  close(): Promise<void>;
}

const owner = 'alice';

export async function startBeatingNode(options: BeatingNodeOptions): Promise<BeatingNode> {
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const orchestrator = await startFakeOrchestrator(ring);
  const name = `chaos-${options.label}-${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), `codeyard-chaos-${options.label}-`));
  const agentPort = await freeLoopbackPort();
  const proxyPort = options.withProxy ? await freeLoopbackPort() : undefined;
  const proxyUrl = proxyPort === undefined ? undefined : `http://127.0.0.1:${proxyPort}`;
  const agentEnv: Record<string, string> = {
    HOME: process.env.HOME ?? '/tmp',
    CODEYARD_NODE_NAME: name,
    CODEYARD_NODE_DATA_DIR: dataDir,
    CODEYARD_AGENT_PORT: String(agentPort),
    CODEYARD_ORCHESTRATOR_URL: orchestrator.url,
    CODEYARD_JOIN_SECRET: 'chaos-node-join-secret',
    CODEYARD_RUNTIME: 'docker',
    CODEYARD_PORT_RANGE: `${options.portRange.start}-${options.portRange.end}`,
    CODEYARD_MAX_CONTAINERS: String(options.maxContainers),
    CODEYARD_WORKSPACE_IMAGE: testWorkspaceImage,
    CODEYARD_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs),
    CODEYARD_IDLE_CHECK_INTERVAL_MS: String(options.idleCheckIntervalMs),
    CODEYARD_IDLE_MS_PER_SECOND: String(options.idleMsPerSecond),
    CODEYARD_LOG_LEVEL: 'warn',
    ...(proxyUrl ? { CODEYARD_PROXY_URL: proxyUrl, CODEYARD_PROXY_HEALTH_URL: `${proxyUrl}/healthz` } : {}),
    ...options.agentEnv,
  };
  let proxy: NodeProxyProcess | undefined;
  const node: BeatingNode = {
    name,
    dataDir,
    orchestrator,
    proxyUrl,
    agent: await spawnAgent(agentEnv),
    command: async (method, path, commandOptions = {}) => {
      const token = await issueAgentToken(ring, {
        audience: nodeAudience(name),
        epoch: commandOptions.epoch ?? 1,
      });
      const response = await fetch(`${node.agent.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(commandOptions.body ? { 'content-type': 'application/json' } : {}),
        },
        ...(commandOptions.body ? { body: JSON.stringify(commandOptions.body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    ensureBody: (codespace, generation, idleTimeoutSeconds) => ({
      name: codespace,
      owner,
      generation,
      spec: aSpec({ idleTimeoutSeconds }),
    }),
    readKv: () => {
      try {
        return parseLocalKv(readFileSync(join(dataDir, 'kv.json'), 'utf8'));
      } catch {
        return undefined;
      }
    },
    dockerView: () => dockerViewOf(name),
    openSession: async (codespace) => {
      if (proxyPort === undefined) throw new Error('this node runs without a proxy');
      const token = await issueAccessToken(ring, { user: owner, codespace, audience: nodeAudience(name) });
      const answer = await rawGet(proxyPort, `/cs/${codespace}/?codeyard_token=${token}`, {});
      const cookie = answer.setCookie[0];
      if (answer.status !== 302 || cookie === undefined)
        throw new Error(`proxy refused the access token: ${answer.status} ${answer.body}`);
      return cookie.split(';')[0]!;
    },
    proxyGet: async (codespace, path, cookie) => {
      if (proxyPort === undefined) throw new Error('this node runs without a proxy');
      const answer = await rawGet(proxyPort, `/cs/${codespace}${path}`, { cookie });
      return { status: answer.status, body: answer.body };
    },
    beats: () => orchestrator.beats.filter((beat) => beat.nodeName === name),
    crashAgentOnContainerEvent: async (action, uid) => {
      const stream = (await docker.getEvents({
        filters: { type: ['container'], event: [action], label: [`${labelKeys.uid}=${uid}`] },
      })) as NodeJS.ReadableStream & { destroy(): void };
      const crashed = new Promise<void>((resolve, reject) => {
        stream.once('data', () => {
          stream.destroy();
          node.agent.kill('SIGKILL').then(resolve, reject);
        });
        stream.once('error', reject);
      });
      return { crashed };
    },
    kill9Agent: () => node.agent.kill('SIGKILL'),
    restartAgent: async (restartOptions = {}) => {
      node.agent = await spawnAgent({ ...agentEnv, ...restartOptions.extraEnv });
    },
    close: async () => {
      await node.agent.kill('SIGKILL').catch(() => undefined);
      await proxy?.kill();
      removeDockerNode(name);
      rmSync(dataDir, { recursive: true, force: true });
      await orchestrator.close();
    },
  };
  if (proxyPort !== undefined) {
    try {
      proxy = await spawnNodeProxy({
        nodeName: name,
        dataDir,
        port: proxyPort,
        orchestratorUrl: orchestrator.url,
        agentUrl: node.agent.url,
        activityReportIntervalMs: options.activityReportIntervalMs ?? 1_000,
      });
    } catch (error) {
      await node.close();
      throw error;
    }
  }
  return node;
}

const docker = new Docker();

/** The containers codeyard labelled with `nodeName`, from Docker itself. */
export async function dockerViewOf(nodeName: string): Promise<DockerView[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${labelKeys.managed}=true`, `${labelKeys.node}=${nodeName}`] },
  });
  return containers.map((c) => ({
    id: c.Id,
    uid: c.Labels[labelKeys.uid] ?? '',
    state: c.State as DockerView['state'],
    hostPort: Number(c.Labels[labelKeys.hostPort]),
  }));
}

export interface NodeProxyProcess {
  readonly url: string;
  readonly pid: number | undefined;
  /** SIGKILL by pid; resolves once it exited. */
  kill(): Promise<void>;
}

/** The node proxy (`src/node-proxy/main.ts`) as a real process, path routing, reading the agent's KV in `dataDir`. */
export async function spawnNodeProxy(options: {
  nodeName: string;
  dataDir: string;
  port: number;
  orchestratorUrl: string;
  agentUrl: string;
  activityReportIntervalMs: number;
}): Promise<NodeProxyProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/node-proxy/main.ts'], {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      CODEYARD_NODE_NAME: options.nodeName,
      CODEYARD_DATA_DIR: options.dataDir,
      CODEYARD_PROXY_HOST: '127.0.0.1',
      CODEYARD_PROXY_PORT: String(options.port),
      CODEYARD_PROXY_ROUTING_MODE: 'path',
      CODEYARD_ORCHESTRATOR_URL: options.orchestratorUrl,
      CODEYARD_AGENT_URL: options.agentUrl,
      CODEYARD_ACTIVITY_REPORT_INTERVAL_MS: String(options.activityReportIntervalMs),
      CODEYARD_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitForHttp(`${url}/healthz`, proxyReadyTimeoutMs);
  } catch (error) {
    await kill();
    throw new Error(`node proxy did not start:\n${output}`, { cause: error });
  }
  return { url, pid: child.pid, kill };
}

/** Waits for `check` to hold, polling; throws `message` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: {
    timeoutMs: number;
    intervalMs?: number;
    message: string;
    details?: () => Promise<string> | string;
  },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const details = options.details ? `\n${await options.details()}` : '';
      throw new Error(`${options.message} (waited ${options.timeoutMs} ms)${details}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; setCookie: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', headers, agent: false, timeout: proxyRequestTimeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            setCookie: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`proxy request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
