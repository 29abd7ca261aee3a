import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalKvReader } from '../node-agent/local-kv-reader.js';
import { CachedKeySet } from '../tokens/index.js';
import { ActivityReporter } from './activity-reporter.js';
import { ActivityTracker } from './activity-tracker.js';
import { loadProxyConfig } from './config.js';
import { createProxyServer } from './proxy-app.js';
import { loadOrCreateSessionSecret, sessionSecretFileName } from './session-secret.js';

/** In-flight requests get this long to finish on SIGTERM before connections are cut. */
export const shutdownGraceMs = 10_000;
export const proxySecretFileName = 'proxy-secret';
export const keySetCacheFileName = 'jwks-cache.json';

/** The node proxy process: config, node-local state, the key set, the KV reader, the server. */
async function main(): Promise<void> {
  const config = loadProxyConfig();
  const log = pino({ level: config.logLevel, base: { component: 'node-proxy', node: config.nodeName } });

  const keySet = new CachedKeySet({
    url: config.jwksUrl,
    cacheFile: join(config.dataDir, keySetCacheFileName),
  });
  await keySet.start();
  if (keySet.current().keys.length === 0)
    log.warn({ url: config.jwksUrl }, 'no verification keys yet; tokens fail until the orchestrator answers');

  const routes = new LocalKvReader({ dataDir: config.dataDir });
  await routes.start();

  const activity = new ActivityTracker();
  const reporter = new ActivityReporter({
    tracker: activity,
    agentUrl: config.agentUrl,
    secretFile: join(config.dataDir, proxySecretFileName),
    intervalMs: config.activityReportIntervalMs,
    onError: (error) => log.warn({ err: error }, 'activity report failed; kept for the next one'),
  });
  reporter.start();

  const tls =
    config.tlsCertFile && config.tlsKeyFile
      ? { cert: await readFile(config.tlsCertFile), key: await readFile(config.tlsKeyFile) }
      : undefined;
  const server = createProxyServer({
    config,
    routes,
    keys: keySet.getKey,
    sessionSecret: await loadOrCreateSessionSecret(join(config.dataDir, sessionSecretFileName)),
    activity,
    log,
    ...(tls ? { tls } : {}),
  });
  await new Promise<void>((resolve) => server.listen(config.listenPort, config.listenHost, resolve));
  log.info(
    {
      host: config.listenHost,
      port: config.listenPort,
      routingMode: config.routingMode,
      forwarder: config.forwarder,
    },
    'node proxy listening',
  );

  const shutdown = (signal: string): void => {
    log.info({ signal }, 'node proxy stopping');
    server.close();
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), shutdownGraceMs).unref();
    keySet.stop();
    routes.stop();
    void reporter.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
