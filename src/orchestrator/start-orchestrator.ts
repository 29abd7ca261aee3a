import type { Logger } from 'pino';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AutoscalerOptions } from '../fleet/autoscaler-policy.js';
import type { FleetProvider, TerminationLifecycle } from '../fleet/fleet-provider.js';
import { TerminatingInstanceWatcher } from '../fleet/terminating-instance-watcher.js';
import { TerminationHookHandler } from '../fleet/termination-hook.js';
import { HttpAgentClient } from '../reconciler/agent-client.js';
import type { ReconcilerConfig } from '../reconciler/config.js';
import type { ControllerTiming } from '../reconciler/controller-options.js';
import type { LeaderElectorTiming } from '../reconciler/leader-elector.js';
import { startReconciler, type RunningReconciler } from '../reconciler/start-reconciler.js';
import type { Store } from '../store/store.js';
import { loadOrCreateKeyRing } from '../tokens/key-file.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { buildOrchestratorApp, type OrchestratorApp } from './app.js';
import { startAutoscalerLoop } from './autoscaler-loop.js';
import { offsetClock, systemClock } from '../reconciler/clock.js';
import { dataDirPaths, type OrchestratorConfig } from './config.js';
import type { OrchestratorContext } from './context.js';
import { resolveFleetJoinSecrets } from './join-secrets.js';
import { createOrchestratorMetrics } from './metrics.js';
import { storeNodeDrainer } from './node-drainer.js';
import { headersTimeoutMs, keepAliveTimeoutMs, requestTimeoutMs } from './server-timeouts.js';
import { createStore } from './store-factory.js';

export interface StartOrchestratorOptions {
  readonly config: OrchestratorConfig;
  readonly logger: Logger;
  readonly fleet: FleetProvider & Partial<TerminationLifecycle>;
  /** Scale the fleet with the autoscaler policy; omit to keep its size as it is. */
  readonly autoscaler?: AutoscalerOptions & { intervalMs?: number };
  readonly reconciler?: {
    readonly config?: Partial<ReconcilerConfig>;
    readonly timing?: Partial<ControllerTiming>;
    readonly electorTiming?: Partial<LeaderElectorTiming>;
  };
  /** Metrics of the process (CPU, memory); off in tests that start several orchestrators. */
  readonly processMetrics?: boolean;
  /** Unique per replica; default host name plus a random suffix. */
  readonly holder?: string;
  /** Use this store instead of one built from the config (tests). */
  readonly store?: Store;
}

export interface RunningOrchestrator {
  readonly app: OrchestratorApp;
  readonly store: Store;
  readonly keyRing: SigningKeyRing;
  readonly joinSecrets: Readonly<Record<string, string>>;
  readonly reconciler: RunningReconciler;
  /** Where the API listens, e.g. `http://127.0.0.1:8420`. */
  readonly url: string;
  /** Hand a terminating node to the drain (the local provider's hook calls this). */
  onTerminating(nodeName: string): void;
  stop(): Promise<void>;
}

/**
 * One orchestrator replica: the API (every replica serves it), the reconciler (only the
 * elected leader acts), the termination-hook drain and the autoscaler (leader only).
 */
export async function startOrchestrator(options: StartOrchestratorOptions): Promise<RunningOrchestrator> {
  const { config, logger, fleet } = options;
  const paths = dataDirPaths(config.dataDir);
  const keyRing = await loadOrCreateKeyRing(paths.signingKeys);
  const joinSecrets = await resolveFleetJoinSecrets({
    configured: config.fleetJoinSecrets,
    path: paths.joinSecrets,
  });
  const store = options.store ?? (await createStore(config));
  const agents = new HttpAgentClient({ keyRing });
  // The system clock, shifted only by the test-only skew setting (chaos suite).
  const clock = offsetClock(systemClock, config.clockOffsetMs ?? 0);

  const reconciler = startReconciler({
    store,
    keyRing,
    fleet,
    agents,
    clock,
    holder: options.holder ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    logger: logger.child({ component: 'reconciler' }),
    config: { nodeNotReadyAfterMs: config.nodeNotReadyAfterMs, ...options.reconciler?.config },
    ...(options.reconciler?.timing ? { timing: options.reconciler.timing } : {}),
    ...(options.reconciler?.electorTiming ? { electorTiming: options.reconciler.electorTiming } : {}),
  });
  const codespaces = () => reconciler.controller.cachedCodespaces();
  const leaderEpoch = () => reconciler.elector.epochIfLeading();

  const context: OrchestratorContext = {
    store,
    clock,
    keyRing,
    config: { ...config, fleetJoinSecrets: joinSecrets },
    logger,
    metrics: createOrchestratorMetrics({ processMetrics: options.processMetrics ?? true }),
    assignmentsFor: reconciler.assignmentsFor,
  };
  const app = await buildOrchestratorApp(context);
  app.server.requestTimeout = requestTimeoutMs;
  app.server.headersTimeout = headersTimeoutMs;
  app.server.keepAliveTimeout = keepAliveTimeoutMs;

  const fleetLogger = logger.child({ component: 'fleet' });
  const lifecycle = fleet.completeLifecycleAction && fleet.recordLifecycleActionHeartbeat ? fleet : undefined;
  const hooks = lifecycle
    ? new TerminationHookHandler(
        {
          drainer: storeNodeDrainer({ store, agents, leaderEpoch, codespaces }),
          lifecycle: lifecycle as TerminationLifecycle,
        },
        { nowMs: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), logger: fleetLogger },
      )
    : undefined;
  const onTerminating = (nodeName: string): void => {
    if (!hooks || leaderEpoch() === undefined) return;
    hooks
      .onTerminating(nodeName)
      .catch((error: unknown) => fleetLogger.warn({ err: error, node: nodeName }, 'drain failed'));
  };
  // The provider's describe() is the level-triggered source of pending hooks (AWS or local).
  const watcher = hooks
    ? new TerminatingInstanceWatcher({
        provider: fleet,
        onTerminating,
        pollIntervalMs: 2_000,
        logger: fleetLogger,
      })
    : undefined;
  const autoscaler = options.autoscaler
    ? startAutoscalerLoop({
        store,
        fleet,
        codespaces,
        isLeader: () => leaderEpoch() !== undefined,
        policy: options.autoscaler,
        nodeNotReadyAfterMs: config.nodeNotReadyAfterMs,
        ...(options.autoscaler.intervalMs ? { intervalMs: options.autoscaler.intervalMs } : {}),
        logger: fleetLogger,
      })
    : undefined;

  const address = await app.listen({ host: config.host, port: config.port });
  watcher?.start();

  return {
    app,
    store,
    keyRing,
    joinSecrets,
    reconciler,
    url: address.replace('[::1]', '127.0.0.1'),
    onTerminating,
    stop: async () => {
      watcher?.stop();
      autoscaler?.stop();
      await reconciler.stop();
      await app.close();
      if (!options.store) await store.close();
    },
  };
}
