import {
  headersTimeoutMs,
  keepAliveTimeoutMs,
  requestTimeoutMs,
} from '../../src/orchestrator/server-timeouts.js';
/**
 * The orchestrator's HTTP API alone — `buildOrchestratorApp` with a RedisStore, the production
 * config, server timeouts and logger — without the reconciler, the fleet or the autoscaler
 * (`src/orchestrator/main.ts` runs those too). A benchmark measures the API and the watch path;
 * a reconciler would react to every benchmark write with writes of its own (status, conditions)
 * and race the benchmark's writer. Configured by the same environment variables as main.ts.
 */
import pino from 'pino';
import { buildOrchestratorApp } from '../../src/orchestrator/app.js';
import { systemClock } from '../../src/orchestrator/clock.js';
import { dataDirPaths, loadOrchestratorConfig } from '../../src/orchestrator/config.js';
import { resolveFleetJoinSecrets } from '../../src/orchestrator/join-secrets.js';
import { createOrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { createStore } from '../../src/orchestrator/store-factory.js';
import { loadOrCreateKeyRing } from '../../src/tokens/key-file.js';

const config = loadOrchestratorConfig();
const logger = pino({ level: config.logLevel, base: { service: 'orchestrator' } });
const paths = dataDirPaths(config.dataDir);
const keyRing = await loadOrCreateKeyRing(paths.signingKeys);
const fleetJoinSecrets = await resolveFleetJoinSecrets({
  configured: config.fleetJoinSecrets,
  path: paths.joinSecrets,
});
const store = await createStore(config);
const app = await buildOrchestratorApp({
  store,
  clock: systemClock,
  keyRing,
  config: { ...config, fleetJoinSecrets },
  logger,
  metrics: createOrchestratorMetrics({ processMetrics: true }),
});
app.server.requestTimeout = requestTimeoutMs;
app.server.headersTimeout = headersTimeoutMs;
app.server.keepAliveTimeout = keepAliveTimeoutMs;
await app.listen({ host: config.host, port: config.port });

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => store.close())
    .finally(() => process.exit(0));
});
