/**
 * Shared helpers for the node-agent and runtime integration suites: workload fixtures, HTTP
 * polling, and cleanup of exactly the containers and volumes one test node created.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeartbeatResponse } from '../../src/model/agent-protocol.js';
import type { CodespaceSpec } from '../../src/model/codespace.js';
import type { Heartbeat } from '../../src/model/node.js';
import type { SigningKeyRing } from '../../src/tokens/signing-keys.js';
import { resourceDefaults } from '../../src/model/limits.js';
import type { WorkloadSpec } from '../../src/node-agent/runtime/container-runtime.js';
import { specHashOf } from '../../src/node-agent/spec-hash.js';
import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';

export const testWorkspaceImage = 'codeyard/test-workspace:latest';

let counter = 0;
export function uniqueSuffix(): string {
  counter += 1;
  return `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}${counter}`;
}

export function aSpec(overrides: Partial<CodespaceSpec> = {}): CodespaceSpec {
  return {
    image: testWorkspaceImage,
    running: true,
    resources: { ...resourceDefaults, memoryMiB: 256, cpu: 0.25 },
    idleTimeoutSeconds: 900,
    env: {},
    ...overrides,
  };
}

export function aWorkload(overrides: Partial<WorkloadSpec> & { hostPort: number }): WorkloadSpec {
  const id = uniqueSuffix();
  const spec = overrides.spec ?? aSpec();
  return {
    uid: `uid-${id}`,
    name: `cs-${id}`,
    owner: 'alice',
    generation: 1,
    epoch: 1,
    spec,
    specHash: specHashOf(spec),
    ...overrides,
  };
}

/** Polls until `url` answers with a status below 500, or throws after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.status < 500) return response;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Fails loudly (never skips) when Docker or the test image is missing. */
export function requireDockerAndImage(image = testWorkspaceImage): void {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
  } catch {
    throw new Error(
      `Docker engine with image ${image} is required (build it: images/ + src/images/ensure-image.ts)`,
    );
  }
}

/** Removes every container and volume labelled with this test node's name, and nothing else. */
export function removeDockerNode(nodeName: string): void {
  const filters = [
    '--filter',
    'label=dev.codeyard.managed=true',
    '--filter',
    `label=dev.codeyard.node=${nodeName}`,
  ];
  const containers = execFileSync('docker', ['ps', '-aq', ...filters], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  if (containers.length > 0) execFileSync('docker', ['rm', '-f', ...containers], { stdio: 'ignore' });
  const volumes = execFileSync('docker', ['volume', 'ls', '-q', ...filters], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  if (volumes.length > 0) execFileSync('docker', ['volume', 'rm', '-f', ...volumes], { stdio: 'ignore' });
}

export function dockerContainersNamed(name: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `name=^/${name}$`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

// ---- a node agent as a real child process, and a fake orchestrator on loopback ----

export interface FakeOrchestrator {
  url: string;
  beats: Heartbeat[];
  /** When false, heartbeats answer 503 (the orchestrator "unreachable"). */
  available: boolean;
  respond: (beat: Heartbeat) => HeartbeatResponse;
  close(): Promise<void>;
}

/** Serves the JWKS nodes fetch and records heartbeats. */
export async function startFakeOrchestrator(ring: SigningKeyRing): Promise<FakeOrchestrator> {
  const fake: FakeOrchestrator = {
    url: '',
    beats: [],
    available: true,
    respond: () => ({ accepted: true }),
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/v1/jwks.json') return res.end(JSON.stringify(ring.jwks()));
      if (req.method === 'POST' && req.url?.endsWith('/heartbeat')) {
        if (!fake.available) return res.writeHead(503).end('{"code":"STORE_UNAVAILABLE","message":"down"}');
        const beat = JSON.parse(raw) as Heartbeat;
        fake.beats.push(beat);
        return res.end(JSON.stringify(fake.respond(beat)));
      }
      res.writeHead(404).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}

export { freeLoopbackPort };

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends a signal to this child only (by pid) and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Runs `src/node-agent/main.ts` under tsx, as a node would, and waits until it answers /healthz. */
export async function spawnAgent(env: Record<string, string>): Promise<AgentProcess> {
  const port = Number(env.CODEYARD_AGENT_PORT);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node-agent/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(`${url}/healthz`, 60_000),
      exited.then(() => {
        throw new Error(`agent exited during start-up:\n${output}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    url,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
