import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { resolve } from 'node:path';

/**
 * The orchestrator's configuration: one validated schema, defaults that work on a laptop.
 * This is the only module of the orchestrator that reads `process.env`; everything else gets
 * an `OrchestratorConfig` through the context.
 */
export const OrchestratorConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65_535 }),
    /** Redis when set; otherwise the embedded in-memory store. */
    redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
    /** Keys, join secrets and other local state: `<dataDir>/keys/signing-keys.json`, … */
    dataDir: Type.String({ minLength: 1 }),
    defaultImage: Type.String({ minLength: 1 }),
    maxCodespacesPerOwner: Type.Integer({ minimum: 1, maximum: 10_000 }),
    watchBookmarkIntervalMs: Type.Integer({ minimum: 10, maximum: 600_000 }),
    watchesPerTokenMax: Type.Integer({ minimum: 1, maximum: 1000 }),
    /** Events a watcher may fall behind before the store cuts it off (it resumes with Last-Event-ID). */
    watchBufferLimit: Type.Integer({ minimum: 1, maximum: 100_000 }),
    rateLimitPerSecond: Type.Integer({ minimum: 1, maximum: 100_000 }),
    rateLimitBurst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    nodeNotReadyAfterMs: Type.Integer({ minimum: 1000, maximum: 3_600_000 }),
    /**
     * How access URLs reach a codespace through its node proxy. `path` (`<proxy>/cs/<name>/`)
     * works with every client; `subdomain` (`<name>.<proxy host>`) gives each codespace its own
     * origin, but needs wildcard DNS — `*.localhost` resolves to loopback in Chromium, not everywhere.
     */
    routingMode: Type.Union([Type.Literal('path'), Type.Literal('subdomain')]),
    /** Fleet → node join secret. Empty means: the `local` fleet with a secret generated into dataDir. */
    fleetJoinSecrets: Type.Record(
      Type.String({ pattern: '^[a-zA-Z0-9][-a-zA-Z0-9_.]*$' }),
      Type.String({ minLength: 16 }),
      { additionalProperties: false },
    ),
    /**
     * Who launches and terminates nodes, and so who can fence a silent one. `none`: nodes are
     * started by hand; a lost node is never fenced, so its codespaces are never moved.
     * `aws`: the Auto Scaling Group named by `asgName`. `local-service`: a local fleet owned by
     * another process and served at `fleetServiceUrl` (src/fleet/local/fleet-service.ts), so several
     * replicas share one fleet (tests, the chaos suite).
     */
    fleetProvider: Type.Union([Type.Literal('none'), Type.Literal('aws'), Type.Literal('local-service')]),
    fleetServiceUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Bearer secret of the fleet service. */
    fleetServiceSecret: Type.Optional(Type.String({ minLength: 16 })),
    /** The fleet name nodes of the AWS group report. */
    fleetName: Type.String({ pattern: '^[a-zA-Z0-9][-a-zA-Z0-9_.]*$' }),
    asgName: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    terminationHookName: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    awsRegion: Type.Optional(Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]$' })),
    /**
     * Test-only (chaos suite): added to this replica's wall clock (beat ages, status timestamps,
     * deadlines) to simulate skew against nodes. Absent (0) in production; the leader lease keeps
     * its monotonic deadline.
     */
    clockOffsetMs: Type.Optional(Type.Integer({ minimum: -86_400_000, maximum: 86_400_000 })),
    /**
     * Reconciler and leader-lease timing; absent means the reconciler's defaults (Kubernetes-like:
     * node lost after 120 s, lease 15 s / renew deadline 10 s / renew every 5 s). Tests shorten them.
     */
    nodeLostGraceMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    leaderLeaseDurationMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 600_000 })),
    leaderRenewDeadlineMs: Type.Optional(Type.Integer({ minimum: 500, maximum: 600_000 })),
    leaderRenewIntervalMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    leaderRetryPeriodMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    /** Bound on each leader-election store call (below the renew deadline). */
    leaderStoreCallTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    /** How often the reconciler relooks at every codespace even without a change. */
    resyncIntervalMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    ),
  },
  { additionalProperties: false },
);
export type OrchestratorConfig = Static<typeof OrchestratorConfig>;

export const orchestratorConfigDefaults: OrchestratorConfig = {
  host: '127.0.0.1',
  port: 8420,
  dataDir: '.codeyard',
  defaultImage: 'codeyard/workspace:latest',
  maxCodespacesPerOwner: 10,
  watchBookmarkIntervalMs: 15_000,
  watchesPerTokenMax: 20,
  watchBufferLimit: 1000,
  rateLimitPerSecond: 20,
  rateLimitBurst: 40,
  nodeNotReadyAfterMs: 15_000,
  routingMode: 'path',
  fleetJoinSecrets: {},
  fleetProvider: 'none',
  fleetName: 'local',
  logLevel: 'info',
};

type Parser = (raw: string) => unknown;
const asString: Parser = (raw) => raw;
const asInteger: Parser = (raw) => (/^-?[0-9]+$/.test(raw.trim()) ? Number(raw) : raw);

/** `fleetA=secret1,fleetB=secret2`; a malformed entry is kept as-is so validation names it. */
const asFleetSecrets: Parser = (raw) => {
  const secrets: Record<string, string> = {};
  for (const entry of raw.split(',').filter((part) => part.trim() !== '')) {
    const separator = entry.indexOf('=');
    if (separator <= 0) return raw;
    secrets[entry.slice(0, separator).trim()] = entry.slice(separator + 1).trim();
  }
  return secrets;
};

/** Environment variable → config key, with how to read it. */
const environmentVariables: Record<string, { key: keyof OrchestratorConfig; parse: Parser }> = {
  CODEYARD_HOST: { key: 'host', parse: asString },
  CODEYARD_PORT: { key: 'port', parse: asInteger },
  REDIS_URL: { key: 'redisUrl', parse: asString },
  CODEYARD_DATA_DIR: { key: 'dataDir', parse: asString },
  CODEYARD_DEFAULT_IMAGE: { key: 'defaultImage', parse: asString },
  CODEYARD_MAX_CODESPACES_PER_OWNER: { key: 'maxCodespacesPerOwner', parse: asInteger },
  CODEYARD_WATCH_BOOKMARK_INTERVAL_MS: { key: 'watchBookmarkIntervalMs', parse: asInteger },
  CODEYARD_WATCHES_PER_TOKEN_MAX: { key: 'watchesPerTokenMax', parse: asInteger },
  CODEYARD_WATCH_BUFFER_LIMIT: { key: 'watchBufferLimit', parse: asInteger },
  CODEYARD_RATE_LIMIT_PER_SECOND: { key: 'rateLimitPerSecond', parse: asInteger },
  CODEYARD_RATE_LIMIT_BURST: { key: 'rateLimitBurst', parse: asInteger },
  CODEYARD_NODE_NOT_READY_AFTER_MS: { key: 'nodeNotReadyAfterMs', parse: asInteger },
  CODEYARD_ROUTING_MODE: { key: 'routingMode', parse: asString },
  CODEYARD_FLEET_JOIN_SECRETS: { key: 'fleetJoinSecrets', parse: asFleetSecrets },
  CODEYARD_LOG_LEVEL: { key: 'logLevel', parse: asString },
  CODEYARD_CLOCK_OFFSET_MS: { key: 'clockOffsetMs', parse: asInteger },
  CODEYARD_FLEET_PROVIDER: { key: 'fleetProvider', parse: asString },
  CODEYARD_FLEET_NAME: { key: 'fleetName', parse: asString },
  CODEYARD_ASG_NAME: { key: 'asgName', parse: asString },
  CODEYARD_FLEET_SERVICE_URL: { key: 'fleetServiceUrl', parse: asString },
  CODEYARD_FLEET_SERVICE_SECRET: { key: 'fleetServiceSecret', parse: asString },
  CODEYARD_NODE_LOST_GRACE_MS: { key: 'nodeLostGraceMs', parse: asInteger },
  CODEYARD_LEADER_LEASE_DURATION_MS: { key: 'leaderLeaseDurationMs', parse: asInteger },
  CODEYARD_LEADER_RENEW_DEADLINE_MS: { key: 'leaderRenewDeadlineMs', parse: asInteger },
  CODEYARD_LEADER_RENEW_INTERVAL_MS: { key: 'leaderRenewIntervalMs', parse: asInteger },
  CODEYARD_LEADER_RETRY_PERIOD_MS: { key: 'leaderRetryPeriodMs', parse: asInteger },
  CODEYARD_LEADER_STORE_CALL_TIMEOUT_MS: { key: 'leaderStoreCallTimeoutMs', parse: asInteger },
  CODEYARD_RESYNC_INTERVAL_MS: { key: 'resyncIntervalMs', parse: asInteger },
  CODEYARD_TERMINATION_HOOK_NAME: { key: 'terminationHookName', parse: asString },
  AWS_REGION: { key: 'awsRegion', parse: asString },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Builds the config from environment variables over the defaults. An invalid value throws a
 * `ConfigError` naming the variable and why, so start-up stops with a readable message.
 */
export function loadOrchestratorConfig(
  environment: Readonly<Record<string, string | undefined>> = process.env,
): OrchestratorConfig {
  const candidate: Record<string, unknown> = { ...orchestratorConfigDefaults };
  const variableByKey = new Map<string, string>();
  for (const [variable, { key, parse }] of Object.entries(environmentVariables)) {
    const raw = environment[variable];
    if (raw === undefined || raw === '') continue;
    candidate[key] = parse(raw);
    variableByKey.set(key, variable);
  }
  const firstError = Value.Errors(OrchestratorConfig, candidate).First();
  if (firstError) {
    const key = firstError.path.split('/')[1] ?? '';
    const variable = variableByKey.get(key) ?? key;
    throw new ConfigError(`invalid configuration ${variable}: ${firstError.message}`);
  }
  const config = candidate as OrchestratorConfig;
  if (
    config.fleetProvider === 'aws' &&
    (config.asgName === undefined || config.terminationHookName === undefined)
  ) {
    throw new ConfigError(
      'invalid configuration CODEYARD_FLEET_PROVIDER: aws needs CODEYARD_ASG_NAME and CODEYARD_TERMINATION_HOOK_NAME',
    );
  }
  if (
    config.fleetProvider === 'local-service' &&
    (config.fleetServiceUrl === undefined || config.fleetServiceSecret === undefined)
  ) {
    throw new ConfigError(
      'invalid configuration CODEYARD_FLEET_PROVIDER: local-service needs CODEYARD_FLEET_SERVICE_URL and CODEYARD_FLEET_SERVICE_SECRET',
    );
  }
  if (config.rateLimitBurst < config.rateLimitPerSecond) {
    throw new ConfigError(
      `invalid configuration ${variableByKey.get('rateLimitBurst') ?? 'rateLimitBurst'}: burst must be at least the per-second rate`,
    );
  }
  return { ...config, dataDir: resolve(config.dataDir) };
}

/** Where the orchestrator's files live inside its data dir. */
export function dataDirPaths(dataDir: string): { signingKeys: string; joinSecrets: string } {
  return {
    signingKeys: resolve(dataDir, 'keys', 'signing-keys.json'),
    joinSecrets: resolve(dataDir, 'secrets', 'fleet-join-secrets.json'),
  };
}
