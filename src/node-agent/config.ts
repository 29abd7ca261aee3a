import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { maxContainersPerNodeDefault } from '../model/limits.js';
import { heartbeatIntervalMsDefault } from './heartbeat-client.js';
import { idleCheckIntervalMsDefault } from './idle-monitor.js';
import { portRangeEndDefault, portRangeStartDefault, type PortRange } from './port-pool.js';

/** The orchestrator's default listen address (src/orchestrator/config.ts; node code may not import it). */
export const orchestratorUrlDefault = 'http://127.0.0.1:8420';
/** The node proxy's default agent URL points here. */
export const agentPortDefault = 7071;

export interface AgentConfig {
  nodeName: string;
  fleet: string;
  dataDir: string;
  agentHost: string;
  agentPort: number;
  agentUrl: string;
  proxyUrl: string;
  proxyHealthUrl: string | undefined;
  orchestratorUrl: string;
  jwksUrl: string;
  /** Undefined: no heartbeats (an agent run on its own). */
  joinSecret: string | undefined;
  joinSecretFile: string | undefined;
  runtime: 'auto' | 'docker' | 'process';
  processCommand: string[] | undefined;
  portRange: PortRange;
  maxContainers: number;
  workspaceImage: string;
  heartbeatIntervalMs: number;
  idleCheckIntervalMs: number;
  /** Test knob: how many ms one second of a spec's idleTimeoutSeconds lasts (1000 in production). */
  idleMsPerSecond: number;
  assignmentGraceMs: number;
  /**
   * Test-only (chaos suite): added to this agent's wall clock — idle judgement, timestamps it
   * writes, heartbeat `sentAt` — to simulate skew against the orchestrator. 0 in production.
   * Docker's own timestamps (a container's start time) keep the host clock.
   */
  clockOffsetMs: number;
  nodeCpu: number;
  nodeMemoryMiB: number;
  pidsLimit: number;
  logLevel: string;
  /** Passed to process-runtime workloads (PATH only). */
  processBaseEnv: Record<string, string>;
}

export class ConfigError extends Error {
  constructor(variable: string, why: string) {
    super(`invalid ${variable}: ${why}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, bounds: { min: number; max: number }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw);
  if (value < bounds.min || value > bounds.max)
    throw new ConfigError(name, `${value} is outside ${bounds.min}..${bounds.max}`);
  return value;
}

/** Largest skew the test-only clock offset may simulate: one day, either way. */
export const clockOffsetMsMax = 86_400_000;

function signedInteger(env: Env, name: string, bounds: { maxAbs: number }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return 0;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw);
  if (Math.abs(value) > bounds.maxAbs)
    throw new ConfigError(name, `${value} is outside -${bounds.maxAbs}..${bounds.maxAbs}`);
  return value;
}

function url(env: Env, name: string, fallback: string): string {
  const value = env[name] || fallback;
  if (!/^https?:\/\/[^\s]+$/.test(value))
    throw new ConfigError(name, `${JSON.stringify(value)} is not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

function portRange(env: Env): PortRange {
  const raw = env.CODEYARD_PORT_RANGE;
  if (!raw) return { start: portRangeStartDefault, end: portRangeEndDefault };
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(raw);
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (!match || start < 1024 || end > 65_535 || end < start) {
    throw new ConfigError(
      'CODEYARD_PORT_RANGE',
      `${JSON.stringify(raw)} is not a range like 42000-42999 within 1024-65535`,
    );
  }
  return { start, end };
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(env: Env): string {
  const level = env.CODEYARD_LOG_LEVEL || 'info';
  if (!logLevels.includes(level))
    throw new ConfigError('CODEYARD_LOG_LEVEL', `must be one of ${logLevels.join(', ')}`);
  return level;
}

function processCommand(env: Env): string[] | undefined {
  const raw = env.CODEYARD_PROCESS_COMMAND;
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('CODEYARD_PROCESS_COMMAND', 'must be a JSON array of strings');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) {
    throw new ConfigError('CODEYARD_PROCESS_COMMAND', 'must be a non-empty JSON array of strings');
  }
  return parsed;
}

/** The agent's configuration from environment variables; every default works on a laptop. */
export function loadAgentConfig(env: Env): AgentConfig {
  const nodeName = env.CODEYARD_NODE_NAME || 'local-node';
  if (!/^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$/.test(nodeName)) {
    throw new ConfigError('CODEYARD_NODE_NAME', `${JSON.stringify(nodeName)} is not a valid node name`);
  }
  const fleet = env.CODEYARD_FLEET || 'local';
  if (!/^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$/.test(fleet))
    throw new ConfigError('CODEYARD_FLEET', 'not a valid fleet name');
  const agentHost = env.CODEYARD_AGENT_HOST || '127.0.0.1';
  const agentPort = integer(env, 'CODEYARD_AGENT_PORT', agentPortDefault, { min: 0, max: 65_535 });
  const orchestratorUrl = url(env, 'CODEYARD_ORCHESTRATOR_URL', orchestratorUrlDefault);
  const runtime = env.CODEYARD_RUNTIME || 'auto';
  if (runtime !== 'auto' && runtime !== 'docker' && runtime !== 'process') {
    throw new ConfigError('CODEYARD_RUNTIME', 'must be auto, docker or process');
  }
  const maxContainers = integer(env, 'CODEYARD_MAX_CONTAINERS', maxContainersPerNodeDefault, {
    min: 1,
    max: 1000,
  });
  const range = portRange(env);
  if (range.end - range.start + 1 < maxContainers) {
    throw new ConfigError(
      'CODEYARD_PORT_RANGE',
      `holds fewer ports than CODEYARD_MAX_CONTAINERS (${maxContainers})`,
    );
  }
  const joinSecret = env.CODEYARD_JOIN_SECRET || undefined;
  if (joinSecret !== undefined && joinSecret.length < 16)
    throw new ConfigError('CODEYARD_JOIN_SECRET', 'must be at least 16 characters');
  return {
    nodeName,
    fleet,
    // The node proxy defaults to the same directory: it reads kv.json and proxy-secret from it.
    dataDir: resolve(env.CODEYARD_NODE_DATA_DIR || '.codeyard/node'),
    agentHost,
    agentPort,
    agentUrl: url(env, 'CODEYARD_AGENT_URL', `http://${agentHost}:${agentPort}`),
    proxyUrl: url(env, 'CODEYARD_PROXY_URL', 'http://127.0.0.1:7443'),
    proxyHealthUrl: env.CODEYARD_PROXY_HEALTH_URL ? url(env, 'CODEYARD_PROXY_HEALTH_URL', '') : undefined,
    orchestratorUrl,
    jwksUrl: url(env, 'CODEYARD_JWKS_URL', `${orchestratorUrl}/v1/jwks.json`),
    joinSecret,
    joinSecretFile: env.CODEYARD_JOIN_SECRET_FILE || undefined,
    runtime,
    processCommand: processCommand(env),
    portRange: range,
    maxContainers,
    workspaceImage: env.CODEYARD_WORKSPACE_IMAGE || 'codeyard/workspace:latest',
    heartbeatIntervalMs: integer(env, 'CODEYARD_HEARTBEAT_INTERVAL_MS', heartbeatIntervalMsDefault, {
      min: 100,
      max: 600_000,
    }),
    idleCheckIntervalMs: integer(env, 'CODEYARD_IDLE_CHECK_INTERVAL_MS', idleCheckIntervalMsDefault, {
      min: 50,
      max: 3_600_000,
    }),
    idleMsPerSecond: integer(env, 'CODEYARD_IDLE_MS_PER_SECOND', 1000, { min: 1, max: 1000 }),
    assignmentGraceMs: integer(env, 'CODEYARD_ASSIGNMENT_GRACE_MS', 30_000, { min: 0, max: 3_600_000 }),
    clockOffsetMs: signedInteger(env, 'CODEYARD_CLOCK_OFFSET_MS', { maxAbs: clockOffsetMsMax }),
    nodeCpu: integer(env, 'CODEYARD_NODE_CPU', cpus().length, { min: 1, max: 1024 }),
    nodeMemoryMiB: integer(env, 'CODEYARD_NODE_MEMORY_MIB', Math.floor(totalmem() / 1024 / 1024), {
      min: 256,
      max: 16_777_216,
    }),
    pidsLimit: integer(env, 'CODEYARD_PIDS_LIMIT', 1024, { min: 16, max: 1_000_000 }),
    logLevel: logLevel(env),
    processBaseEnv: env.PATH ? { PATH: env.PATH } : {},
  };
}

/** The only place the agent reads `process.env`. */
export function agentConfigFromProcess(): AgentConfig {
  return loadAgentConfig(process.env);
}
