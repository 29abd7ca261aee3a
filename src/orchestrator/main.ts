import pino from 'pino';
import { ConfigError, loadOrchestratorConfig } from './config.js';
import { fleetFromConfig } from './fleet-from-config.js';
import { reconcilerTuningFromConfig } from './reconciler-tuning.js';
import { startOrchestrator } from './start-orchestrator.js';

/** In-flight requests get this long to finish at shutdown before the process exits anyway. */
export const shutdownGraceMs = 10_000;

/** The orchestrator process: config, one replica (API + reconciler), graceful shutdown. */
export async function main(): Promise<void> {
  const config = loadOrchestratorConfig();
  const logger = pino({ level: config.logLevel, base: { service: 'orchestrator' } });
  const fleet = fleetFromConfig(config);
  const orchestrator = await startOrchestrator({
    config,
    logger,
    fleet,
    reconciler: reconcilerTuningFromConfig(config),
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown grace period over; exiting');
      process.exit(1);
    }, shutdownGraceMs);
    deadline.unref();
    orchestrator
      .stop()
      .then(() => fleet.close())
      .then(
        () => {
          logger.info('stopped');
          process.exitCode = 0;
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exitCode = 1;
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  logger.info(
    {
      url: orchestrator.url,
      store: config.redisUrl ? 'redis' : 'memory',
      dataDir: config.dataDir,
      fleets: Object.keys(orchestrator.joinSecrets),
      fleetProvider: config.fleetProvider,
    },
    'orchestrator ready',
  );
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError
      ? error.message
      : `start-up failed: ${String(error instanceof Error ? error.stack : error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
