/**
 * Node agents as real child processes on the Docker engine, with a fake orchestrator that serves
 * the JWKS and records heartbeats. Each node has its own name, data dir and host port range;
 * `close()` removes only the containers and volumes labelled with those node names.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnsureRunningRequest } from '../../src/model/agent-protocol.js';
import { containerNameFor } from '../../src/model/codespace.js';
import type { ObservedContainer } from '../../src/model/node.js';
import { ProcessRuntime } from '../../src/node-agent/runtime/process-runtime.js';
import { generateSigningKey, issueAgentToken, nodeAudience, SigningKeyRing } from '../../src/tokens/index.js';
import {
  aSpec,
  freeLoopbackPort,
  removeDockerNode,
  spawnAgent,
  startFakeOrchestrator,
  testWorkspaceImage,
  type AgentProcess,
  type FakeOrchestrator,
} from './node-agent-support.js';

/** 300 s idle timeout × 10 ms per "second" = 3 s; tests that must not idle use the maximum (144 s). */
export const msPerIdleSecond = 10;
export const longIdleSeconds = 14_400;
export const portsPerNode = 50;

export interface AgentNode {
  name: string;
  dataDir: string;
  agent: AgentProcess;
  /** (Re)starts the agent process with the same name, data dir and ports. */
  start(): Promise<AgentProcess>;
}

/** Loosely typed union of the agent's answers: a container view, a list, or an error. */
export interface AgentAnswer {
  code?: string;
  message: string;
  container: ObservedContainer;
  containers: ObservedContainer[];
}

export interface AgentCluster {
  orchestrator: FakeOrchestrator;
  aNode(
    label: string,
    portRangeStart: number,
    options?: { runtime?: 'docker' | 'process' },
  ): Promise<AgentNode>;
  send(
    node: AgentNode,
    method: string,
    path: string,
    options?: { epoch?: number; body?: unknown },
  ): Promise<{ status: number; body: AgentAnswer }>;
  close(): Promise<void>;
}

export async function startAgentCluster(): Promise<AgentCluster> {
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const orchestrator = await startFakeOrchestrator(ring);
  const nodes: AgentNode[] = [];
  return {
    orchestrator,
    aNode: async (label, portRangeStart, options = {}) => {
      const name = `it-${label}-${process.pid}`;
      const dataDir = mkdtempSync(join(tmpdir(), `codeyard-${label}-`));
      const env = {
        CODEYARD_NODE_NAME: name,
        CODEYARD_NODE_DATA_DIR: dataDir,
        CODEYARD_AGENT_PORT: String(await freeLoopbackPort()),
        CODEYARD_ORCHESTRATOR_URL: orchestrator.url,
        CODEYARD_JOIN_SECRET: 'integration-join-secret',
        CODEYARD_RUNTIME: options.runtime ?? 'docker',
        CODEYARD_PORT_RANGE: `${portRangeStart}-${portRangeStart + portsPerNode - 1}`,
        CODEYARD_WORKSPACE_IMAGE: testWorkspaceImage,
        CODEYARD_HEARTBEAT_INTERVAL_MS: '500',
        CODEYARD_IDLE_CHECK_INTERVAL_MS: '200',
        CODEYARD_IDLE_MS_PER_SECOND: String(msPerIdleSecond),
        CODEYARD_LOG_LEVEL: 'warn',
      };
      const node: AgentNode = {
        name,
        dataDir,
        agent: undefined as unknown as AgentProcess,
        start: async () => {
          node.agent = await spawnAgent(env);
          return node.agent;
        },
      };
      nodes.push(node);
      await node.start();
      return node;
    },
    send: async (node, method, path, options = {}) => {
      const token = await issueAgentToken(ring, {
        audience: nodeAudience(node.name),
        epoch: options.epoch ?? 1,
      });
      const response = await fetch(`${node.agent.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(options.body ? { 'content-type': 'application/json' } : {}),
        },
        ...(options.body ? { body: JSON.stringify(options.body) } : {}),
      });
      return { status: response.status, body: (await response.json()) as AgentAnswer };
    },
    close: async () => {
      for (const node of nodes) {
        await node.agent?.kill('SIGKILL');
        removeDockerNode(node.name);
        const processes = new ProcessRuntime({ nodeName: node.name, dataDir: node.dataDir });
        for (const workload of await processes.list()) await processes.remove(workload.uid);
        rmSync(node.dataDir, { recursive: true, force: true });
      }
      await orchestrator.close();
    },
  };
}

export function ensureBody(
  name: string,
  over: Partial<EnsureRunningRequest> & { idleTimeoutSeconds?: number } = {},
): EnsureRunningRequest {
  const { idleTimeoutSeconds, ...rest } = over;
  return {
    name,
    owner: 'alice',
    generation: 1,
    spec: aSpec({ idleTimeoutSeconds: idleTimeoutSeconds ?? longIdleSeconds }),
    ...rest,
  };
}

export function dockerLabel(uid: string, label: string): string {
  return execFileSync(
    'docker',
    ['inspect', '-f', `{{ index .Config.Labels "${label}" }}`, containerNameFor(uid)],
    {
      encoding: 'utf8',
    },
  ).trim();
}

export function dockerState(uid: string): string {
  return execFileSync('docker', ['inspect', '-f', '{{.State.Status}}', containerNameFor(uid)], {
    encoding: 'utf8',
  }).trim();
}
