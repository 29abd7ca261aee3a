import { isAbsolute, join, resolve } from 'node:path';
import { CodeyardError } from '../model/errors.js';
import { isDnsLabel } from '../model/names.js';

/**
 * The node proxy's configuration: the only place the proxy reads `process.env`. Every value
 * is validated at start-up; an invalid one stops the process with a message naming it.
 * Defaults work on one machine (`codeyard up`).
 */
export type RoutingMode = 'subdomain' | 'path';

/**
 * How plain HTTP requests reach a container. `raw` (the default: cheapest measured, see
 * docs/benchmarks.md): pooled keep-alive TCP connections, request head written and response
 * head parsed by the proxy itself (upstream-raw.ts). `native`: node:http with a keep-alive
 * Agent. `reply-from`: @fastify/reply-from. All three sit behind the same authentication and
 * header policy; WebSocket upgrades are relayed as bytes in all.
 */
export type ProxyForwarder = 'raw' | 'native' | 'reply-from';
export const proxyForwarders: readonly ProxyForwarder[] = ['raw', 'native', 'reply-from'];

export interface ProxyConfig {
  nodeName: string;
  fleet: string;
  listenHost: string;
  listenPort: number;
  /** `subdomain`: `{codespace}.{nodeDomain}`; `path`: `/cs/{codespace}/` on any host. */
  routingMode: RoutingMode;
  /** The DNS suffix codespaces hang under in subdomain mode (wildcard DNS and TLS needed in production). */
  nodeDomain: string;
  /** Serve HTTPS with these PEM files; without them the proxy speaks plain HTTP (loopback, or behind a TLS terminator that sets `secureCookies`). */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** Whether browsers reach the proxy over HTTPS: cookies get `Secure` and the `__Host-` prefix. */
  secureCookies: boolean;
  /** Where verification keys come from (per-fleet key sets are possible, hence a URL of its own). */
  jwksUrl: string;
  /** The node agent, for activity reports. */
  agentUrl: string;
  /** Node-local state: session secret, cached key set; the agent's KV file and proxy secret live here too. */
  dataDir: string;
  sessionTtlSeconds: number;
  activityReportIntervalMs: number;
  /** Client→server WebSocket data frames with a payload smaller than this are keep-alives, not a person. */
  activityMinFrameBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  forwarder: ProxyForwarder;
}

export const proxyListenPortDefault = 7443;
export const sessionTtlSecondsDefault = 12 * 3600;
export const activityReportIntervalMsDefault = 5_000;
/**
 * Measured with code-server 4.100 through this proxy (docs/node-proxy.md): KeepAlive and Ack
 * messages are 13 bytes, telemetry latency pings 38; one keystroke is at least 51 bytes
 * (terminal `$input`), editor edits far more. The proxy turns off permessage-deflate so these
 * sizes are what it sees.
 */
export const activityMinFrameBytesDefault = 48;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type Env = Readonly<Record<string, string | undefined>>;

function invalid(name: string, why: string): never {
  throw new CodeyardError('VALIDATION_FAILED', `${name} ${why}`, { field: name });
}

function text(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function integer(env: Env, name: string, fallback: number, bounds: { min: number; max: number }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) invalid(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < bounds.min || value > bounds.max) invalid(name, `must be within ${bounds.min}..${bounds.max}`);
  return value;
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(name, `must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(name, 'must use http or https');
  return value.replace(/\/+$/, '');
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return invalid(name, 'must be true or false');
}

export function loadProxyConfig(env: Env = process.env, cwd: string = process.cwd()): ProxyConfig {
  const nodeName = text(env, 'CODEYARD_NODE_NAME', 'local-node');
  if (!/^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$/.test(nodeName)) {
    invalid('CODEYARD_NODE_NAME', 'must be 1-63 letters, digits, "-", "_" or "."');
  }
  const fleet = text(env, 'CODEYARD_FLEET', 'local');
  if (!/^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$/.test(fleet)) invalid('CODEYARD_FLEET', 'must be a fleet name');

  const routingMode = text(env, 'CODEYARD_PROXY_ROUTING_MODE', 'subdomain');
  if (routingMode !== 'subdomain' && routingMode !== 'path') {
    invalid('CODEYARD_PROXY_ROUTING_MODE', 'must be "subdomain" or "path"');
  }
  const nodeDomain = text(env, 'CODEYARD_NODE_DOMAIN', 'localhost').toLowerCase();
  if (!nodeDomain.split('.').every((label) => isDnsLabel(label))) {
    invalid('CODEYARD_NODE_DOMAIN', 'must be a DNS name such as "node-1.codeyard.example"');
  }

  const tlsCertFile = env.CODEYARD_PROXY_TLS_CERT_FILE || undefined;
  const tlsKeyFile = env.CODEYARD_PROXY_TLS_KEY_FILE || undefined;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    invalid('CODEYARD_PROXY_TLS_CERT_FILE', 'and CODEYARD_PROXY_TLS_KEY_FILE must be set together');
  }
  const secureCookies = flag(env, 'CODEYARD_PROXY_SECURE_COOKIES', tlsCertFile !== undefined);

  const orchestratorUrl = httpUrl(
    'CODEYARD_ORCHESTRATOR_URL',
    text(env, 'CODEYARD_ORCHESTRATOR_URL', 'http://127.0.0.1:8420'),
  );
  const jwksUrl = httpUrl(
    'CODEYARD_JWKS_URL',
    text(env, 'CODEYARD_JWKS_URL', `${orchestratorUrl}/v1/jwks.json`),
  );
  const agentUrl = httpUrl('CODEYARD_AGENT_URL', text(env, 'CODEYARD_AGENT_URL', 'http://127.0.0.1:7071'));

  const dataDirRaw = text(env, 'CODEYARD_DATA_DIR', join('.codeyard', 'node'));
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);

  const logLevel = text(env, 'CODEYARD_LOG_LEVEL', 'warn');
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    invalid('CODEYARD_LOG_LEVEL', `must be one of ${logLevels.join(', ')}`);
  }

  const forwarder = text(env, 'CODEYARD_PROXY_FORWARDER', 'raw');
  if (!(proxyForwarders as readonly string[]).includes(forwarder)) {
    invalid('CODEYARD_PROXY_FORWARDER', `must be one of ${proxyForwarders.join(', ')}`);
  }

  return {
    nodeName,
    fleet,
    listenHost: text(env, 'CODEYARD_PROXY_HOST', '127.0.0.1'),
    listenPort: integer(env, 'CODEYARD_PROXY_PORT', proxyListenPortDefault, { min: 0, max: 65_535 }),
    routingMode,
    nodeDomain,
    tlsCertFile,
    tlsKeyFile,
    secureCookies,
    jwksUrl,
    agentUrl,
    dataDir,
    sessionTtlSeconds: integer(env, 'CODEYARD_SESSION_TTL_SECONDS', sessionTtlSecondsDefault, {
      min: 60,
      max: 7 * 24 * 3600,
    }),
    activityReportIntervalMs: integer(
      env,
      'CODEYARD_ACTIVITY_REPORT_INTERVAL_MS',
      activityReportIntervalMsDefault,
      {
        min: 100,
        max: 60_000,
      },
    ),
    activityMinFrameBytes: integer(env, 'CODEYARD_ACTIVITY_MIN_FRAME_BYTES', activityMinFrameBytesDefault, {
      min: 0,
      max: 65_536,
    }),
    logLevel: logLevel as ProxyConfig['logLevel'],
    forwarder: forwarder as ProxyForwarder,
  };
}
