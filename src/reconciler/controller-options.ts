import type { ReconcilerConfig } from './config.js';
import type { AgentClient } from './agent-client.js';
import type { Clock } from './clock.js';
import type { Fencer } from './fencer.js';
import type { Store } from '../store/store.js';

/** How often the runner looks, and how many passes run at once. */
export interface ControllerTiming {
  /** Node records are read this often and diffed: a changed report triggers its codespaces. */
  readonly nodePollIntervalMs: number;
  /** Every codespace is looked at again this often, whatever happened. */
  readonly resyncIntervalMs: number;
  /** No successful node read for this long counts as a blind spell of ours (grace clocks restart). */
  readonly blindAfterMs: number;
  /** While a Lost node's termination is unconfirmed, look again this often. */
  readonly fenceRetryMs: number;
  /** An orphan removal sent to a node is not sent again sooner (the agent may still be removing it). */
  readonly orphanRemovalRetryMs: number;
  readonly workers: number;
}

export const controllerTimingDefaults: ControllerTiming = {
  nodePollIntervalMs: 1_000,
  resyncIntervalMs: 30_000,
  blindAfterMs: 5_000,
  fenceRetryMs: 5_000,
  orphanRemovalRetryMs: 5_000,
  workers: 4,
};

export interface ControllerOptions {
  readonly store: Store;
  readonly agents: AgentClient;
  readonly fencer: Fencer;
  readonly clock: Clock;
  /** The epoch to act under, or undefined when not leading (see `LeaderElector.epochIfLeading`). */
  readonly leaderEpoch: () => number | undefined;
  readonly onStaleEpoch?: (nodeName: string) => void;
  readonly config?: Partial<ReconcilerConfig>;
  readonly timing?: Partial<ControllerTiming>;
  readonly onError?: (key: string, error: unknown) => void;
}
