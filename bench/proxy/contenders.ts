import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { childStopTimeoutMs, startPinnedTsChild, type StartedChild } from '../lib/child-process.js';
import { pinnedCommand, systemUnderTestCpu } from '../lib/cpu-pinning.js';
import { freeLoopbackPort } from '../lib/free-port.js';
import { sleep } from '../lib/monotonic-clock.js';
import {
  localKvFileName,
  localKvFormat,
  type LocalKvDocument,
} from '../../src/node-agent/local-kv-format.js';

/** A process the benchmark started and measures. */
export interface Sut {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export const benchCodespace = 'bench';
export const benchUser = 'alice';
export const benchNodeName = 'bench-node';
export const portReadyTimeoutMs = 20_000;
export const chpBin = '/tmp/chp/node_modules/configurable-http-proxy/bin/configurable-http-proxy';

export async function waitForPort(port: number, timeoutMs = portReadyTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), childStopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };
}

function fromTsChild(started: StartedChild, port: number): Sut {
  return { pid: started.pid, port, stop: () => started.stop() };
}

export async function startUpstream(): Promise<Sut> {
  const port = await freeLoopbackPort();
  const child = startPinnedTsChild({
    entry: 'bench/lib/bench-upstream.ts',
    cpu: systemUnderTestCpu,
    args: [String(port)],
    ipc: false,
  });
  await waitForPort(port);
  return fromTsChild(child, port);
}

/** The node agent's KV file with the bench route and `extraRoutes` others (the 10,000-route case). */
export async function writeKv(dataDir: string, upstreamPort: number, extraRoutes: number): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const entry = (uid: string, owner: string, hostPort: number) => ({
    uid,
    owner,
    hostPort,
    state: 'running' as const,
    ready: true,
    generation: 1,
    epoch: 1,
  });
  const codespaces: LocalKvDocument['codespaces'] = {
    [benchCodespace]: entry('uid-bench', benchUser, upstreamPort),
  };
  for (let i = 0; i < extraRoutes; i += 1) codespaces[`cs-${i}`] = entry(`uid-${i}`, `user-${i}`, 20_000 + i);
  const doc: LocalKvDocument = {
    format: localKvFormat,
    version: 1,
    nodeName: benchNodeName,
    writtenAt: new Date().toISOString(),
    draining: false,
    codespaces,
    users: {},
    freePorts: [],
  };
  await writeFile(join(dataDir, localKvFileName), JSON.stringify(doc));
  await writeFile(join(dataDir, 'proxy-secret'), 'bench-proxy-secret\n');
}

/** The real node proxy process (src/node-proxy/main.ts), path routing, logs to `logFile`. */
export async function startNodeProxy(options: {
  forwarder: 'raw' | 'native' | 'reply-from';
  dataDir: string;
  /** The fake control plane's base URL; `agentId` names this proxy's activity counter. */
  controlPlaneUrl: string;
  agentId: string;
  logFile: string;
  /** Another checkout's root (e.g. the last commit's `src`, for A-B comparisons while tuning); default this one. */
  sourceRoot?: string;
}): Promise<Sut> {
  const port = await freeLoopbackPort();
  const child = startPinnedTsChild({
    entry: join(options.sourceRoot ?? '.', 'src/node-proxy/main.ts'),
    cpu: systemUnderTestCpu,
    ipc: false,
    stdout: openSync(options.logFile, 'a'),
    env: {
      CODEYARD_NODE_NAME: benchNodeName,
      CODEYARD_PROXY_PORT: String(port),
      CODEYARD_PROXY_ROUTING_MODE: 'path',
      CODEYARD_DATA_DIR: options.dataDir,
      CODEYARD_JWKS_URL: `${options.controlPlaneUrl}/v1/jwks.json`,
      CODEYARD_AGENT_URL: `${options.controlPlaneUrl}/agent/${options.agentId}`,
      CODEYARD_PROXY_FORWARDER: options.forwarder,
      CODEYARD_LOG_LEVEL: 'warn',
    },
  });
  await waitForPort(port);
  return fromTsChild(child, port);
}

export async function startChp(upstreamPort: number, logFile: string): Promise<Sut> {
  const port = await freeLoopbackPort();
  const apiPort = await freeLoopbackPort();
  const [command, args] = pinnedCommand(systemUnderTestCpu, [
    process.execPath,
    chpBin,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--api-ip',
    '127.0.0.1',
    '--api-port',
    String(apiPort),
    '--default-target',
    `http://127.0.0.1:${upstreamPort}`,
    '--log-level',
    'warn',
  ]);
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, {
    stdio: ['ignore', log, log],
    env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: 'bench-chp-token' },
  });
  if (child.pid === undefined) throw new Error('could not start configurable-http-proxy');
  await waitForPort(port);
  return { pid: child.pid, port, stop: stopper(child) };
}

/** nginx-light as one process (`master_process off`), keep-alive to the upstream, WebSocket upgrades passed. */
export async function startNginx(upstreamPort: number, dir: string): Promise<Sut> {
  const port = await freeLoopbackPort();
  await mkdir(join(dir, 'logs'), { recursive: true });
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream bench { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
    }
  }
}
`;
  const confFile = join(dir, 'nginx.conf');
  await writeFile(confFile, conf);
  const [command, args] = pinnedCommand(systemUnderTestCpu, ['/usr/sbin/nginx', '-c', confFile, '-p', dir]);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (child.pid === undefined) throw new Error('could not start nginx');
  await waitForPort(port);
  return { pid: child.pid, port, stop: stopper(child) };
}
