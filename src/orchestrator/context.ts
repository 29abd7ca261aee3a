import type { Logger } from 'pino';
import type { Assignment } from '../model/agent-protocol.js';
import type { Store } from '../store/store.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import type { Clock } from './clock.js';
import type { OrchestratorConfig } from './config.js';
import type { OrchestratorMetrics } from './metrics.js';

/**
 * Everything the orchestrator's request handlers depend on, built once at start-up
 * (kube-rs style). Tests build one with a MemoryStore and a manual clock.
 */
export interface OrchestratorContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly keyRing: SigningKeyRing;
  /** Resolved config: `fleetJoinSecrets` holds at least one fleet. */
  readonly config: OrchestratorConfig;
  readonly logger: Logger;
  readonly metrics: OrchestratorMetrics;
  /**
   * What the orchestrator wants a node to run, returned in each heartbeat response. The
   * reconciler provides it; without it heartbeats answer `{ accepted }` only.
   */
  readonly assignmentsFor?: (nodeName: string) => Promise<{ epoch: number; assignments: Assignment[] }>;
}
