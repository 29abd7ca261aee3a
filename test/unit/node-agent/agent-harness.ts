/**
 * Builds a real node agent for unit tests: the process runtime on a temporary data dir (real
 * child processes, no Docker), real port pool, KV and epoch file, and the fastify app with a
 * freshly generated orchestrator key installed directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { EnsureRunningRequest } from '../../../src/model/agent-protocol.js';
import { resourceDefaults } from '../../../src/model/limits.js';
import { buildAgentApp } from '../../../src/node-agent/agent-app.js';
import { rebuildFromRuntime, refreshFromRuntime } from '../../../src/node-agent/agent-sync.js';
import { EpochStore } from '../../../src/node-agent/epoch-store.js';
import { LocalKv } from '../../../src/node-agent/local-kv.js';
import { NodeAgent } from '../../../src/node-agent/node-agent.js';
import { PortPool } from '../../../src/node-agent/port-pool.js';
import { ProcessRuntime } from '../../../src/node-agent/runtime/process-runtime.js';
import {
  generateSigningKey,
  issueAgentToken,
  nodeAudience,
  SigningKeyRing,
} from '../../../src/tokens/index.js';

export interface Harness {
  app: FastifyInstance;
  agent: NodeAgent;
  runtime: ProcessRuntime;
  kv: LocalKv;
  ports: PortPool;
  dataDir: string;
  nodeName: string;
  ring: SigningKeyRing;
  proxySecret: string;
  token(options?: {
    epoch?: number;
    audience?: string;
    ttlSeconds?: number;
    ring?: SigningKeyRing;
  }): Promise<string>;
  /** A second agent over the same data dir, as after a restart. */
  restart(): Promise<Harness>;
  close(): Promise<void>;
}

export const silentLogger = pino({ level: 'silent' });

let counter = 0;

export async function startHarness(options: {
  maxContainers?: number;
  portStart: number;
  ring?: SigningKeyRing;
  dataDir?: string;
  nodeName?: string;
}): Promise<Harness> {
  counter += 1;
  const nodeName = options.nodeName ?? `unit-node-${process.pid}-${counter}`;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'codeyard-agent-unit-'));
  const ring = options.ring ?? new SigningKeyRing([await generateSigningKey(Date.now())]);
  const runtime = new ProcessRuntime({ nodeName, dataDir });
  const ports = new PortPool({ start: options.portStart, end: options.portStart + 9 });
  const kv = new LocalKv({ dataDir, nodeName, freePorts: () => ports.freePorts() });
  const epochs = new EpochStore(join(dataDir, 'highest-epoch'));
  await epochs.load();
  const agent = new NodeAgent({
    nodeName,
    runtime,
    ports,
    kv,
    epochs,
    maxContainers: options.maxContainers ?? 20,
    logger: silentLogger,
  });
  const sync = { runtime, ports, kv, agent, logger: silentLogger };
  await rebuildFromRuntime(sync);
  const proxySecret = 'p'.repeat(64);
  const app = await buildAgentApp({
    agent,
    keys: ring.jwks(),
    proxySecret,
    runtimeKind: runtime.kind,
    refresh: () => refreshFromRuntime(sync),
  });
  const harness: Harness = {
    app,
    agent,
    runtime,
    kv,
    ports,
    dataDir,
    nodeName,
    ring,
    proxySecret,
    token: (t = {}) =>
      issueAgentToken(
        t.ring ?? ring,
        { audience: t.audience ?? nodeAudience(nodeName), epoch: t.epoch ?? 1 },
        t.ttlSeconds !== undefined ? { ttlSeconds: t.ttlSeconds } : {},
      ),
    restart: async () => {
      await app.close();
      agent.close();
      await kv.flush();
      return startHarness({ ...options, ring, dataDir, nodeName });
    },
    close: async () => {
      await app.close();
      agent.close();
      for (const container of await runtime.list()) await runtime.remove(container.uid);
      await kv.flush().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

export function anEnsureRequest(
  overrides: Partial<EnsureRunningRequest> & { name: string },
): EnsureRunningRequest {
  return {
    owner: 'alice',
    generation: 1,
    spec: {
      image: 'codeyard/test-workspace:latest',
      running: true,
      resources: { ...resourceDefaults, cpu: 0.25, memoryMiB: 256 },
      idleTimeoutSeconds: 900,
      env: {},
    },
    ...overrides,
  };
}
