import type { Logger } from 'pino';
import type { Assignment } from '../model/agent-protocol.js';
import { CodeyardError } from '../model/errors.js';
import type { FleetProvider } from '../fleet/fleet-provider.js';
import type { Store } from '../store/store.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { HttpAgentClient, type AgentClient } from './agent-client.js';
import { sleep, systemClock, type Clock } from './clock.js';
import type { ReconcilerConfig } from './config.js';
import { Controller } from './controller.js';
import { controllerTimingDefaults, type ControllerTiming } from './controller-options.js';
import { Fencer } from './fencer.js';
import { LeaderElector, type LeaderElectorTiming } from './leader-elector.js';
import { runWorkers } from './reconcile-result.js';

/** Everything the reconciler needs, built once by the orchestrator (kube-rs style context). */
export interface ReconcilerContext {
  readonly store: Store;
  /** Signs agent tokens; ignored when `agents` is given. */
  readonly keyRing: SigningKeyRing;
  readonly fleet: Pick<FleetProvider, 'terminate' | 'describe'>;
  /** Unique per replica (host name plus a random suffix). */
  readonly holder: string;
  readonly clock?: Clock;
  readonly agents?: AgentClient;
  readonly config?: Partial<ReconcilerConfig>;
  readonly timing?: Partial<ControllerTiming>;
  readonly electorTiming?: Partial<LeaderElectorTiming>;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface RunningReconciler {
  /** For heartbeat responses (`OrchestratorContext.assignmentsFor`). */
  assignmentsFor(nodeName: string): Promise<{ epoch: number; assignments: Assignment[] }>;
  readonly controller: Controller;
  readonly elector: LeaderElector;
  /** Stops every loop and releases leadership; resolves when all work has ended. */
  stop(): Promise<void>;
}

const watchRestartDelayMs = 1_000;

/**
 * Starts the reconciler on this replica: leader election, the codespace watch, node polling,
 * the periodic resync and the workers. Every replica runs it; only the leader acts.
 */
export function startReconciler(context: ReconcilerContext): RunningReconciler {
  const clock = context.clock ?? systemClock;
  const timing = { ...controllerTimingDefaults, ...context.timing };
  const log = context.logger;
  const abort = new AbortController();
  const controller = new Controller({
    store: context.store,
    agents: context.agents ?? new HttpAgentClient({ keyRing: context.keyRing }),
    fencer: new Fencer({ fleet: context.fleet, clock }),
    clock,
    // `elector` is declared below; these closures run only once both exist.
    leaderEpoch: () => elector.epochIfLeading(),
    onStaleEpoch: (node) => {
      log?.warn({ node }, 'node refused a command from an older epoch');
      elector.reportStaleEpoch();
    },
    ...(context.config ? { config: context.config } : {}),
    timing,
  });
  const elector = new LeaderElector({
    store: context.store,
    clock,
    holder: context.holder,
    ...(context.electorTiming ? { timing: context.electorTiming } : {}),
    onStartedLeading: (epoch) => {
      log?.info({ epoch }, 'became reconciler leader');
      controller
        .onStartedLeading()
        .catch((error: unknown) => log?.warn({ err: error }, 'initial sync failed; resync retries'));
    },
    onStoppedLeading: () => log?.warn('stopped leading'),
    onError: (error) => log?.warn({ err: error }, 'leader election call failed'),
  });

  // The pending timer of each periodic loop, cancelled on stop.
  const timers = new Map<string, () => void>();
  const every = (name: string, intervalMs: number, work: () => Promise<void>): void => {
    const loop = (): void => {
      if (abort.signal.aborted) return;
      work()
        .catch((error: unknown) => log?.warn({ err: error }, `reconciler ${name} failed`))
        .finally(() => {
          if (!abort.signal.aborted) timers.set(name, clock.setTimer(intervalMs, loop));
        });
    };
    loop();
  };

  const watchLoop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        await controller.relist();
        for await (const event of context.store.watchCodespaces({
          fromResourceVersion: controller.resourceVersion,
          signal: abort.signal,
        })) {
          controller.applyWatchEvent(event);
        }
      } catch (error) {
        if (abort.signal.aborted) break;
        if (!(error instanceof CodeyardError && error.code === 'RESOURCE_VERSION_TOO_OLD')) {
          log?.warn({ err: error }, 'codespace watch failed; relisting');
        }
      }
      if (!abort.signal.aborted) await sleep(clock, watchRestartDelayMs);
    }
  };

  elector.start();
  const watching = watchLoop();
  every('node poll', timing.nodePollIntervalMs, () => controller.pollNodes());
  every('resync', timing.resyncIntervalMs, async () => controller.resync());
  const working = runWorkers({
    queue: controller.queue,
    reconcile: (key) => controller.reconcile(key),
    concurrency: timing.workers,
    hooks: {
      onError: (key, error) => log?.warn({ key, err: error }, 'reconcile failed; retrying with backoff'),
      onTerminal: (key, error) => log?.error({ key, err: error }, 'reconcile failed for good'),
    },
  });

  return {
    controller,
    elector,
    assignmentsFor: async (nodeName) => controller.assignmentsFor(nodeName),
    stop: async () => {
      abort.abort();
      for (const cancel of timers.values()) cancel();
      controller.queue.shutDown();
      await elector.stop();
      await Promise.allSettled([watching, working]);
    },
  };
}
