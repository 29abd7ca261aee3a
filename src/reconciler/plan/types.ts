import type { Codespace, CodespaceStatus } from '../../model/codespace.js';
import type { ObservedContainer } from '../../model/node.js';
import type { NodeView } from '../../placement/node-view.js';
import type { PlacementIndex } from '../../placement/placement-index.js';
import type { ReconcilerConfig } from '../config.js';
import type { JudgedNode } from '../node-health.js';

/**
 * The reconcile plan: given one codespace, what every node reports about it, and `now`, the next
 * step and the status that explains it. Pure — no clock, no I/O — so each behaviour is a test
 * that seeds a snapshot and compares the actions (sample-controller style).
 *
 * The executor writes the new status first (compare-and-set, fenced by the leader epoch) and
 * only then sends the agent commands, so no command is ever sent for a decision the store refused.
 */
export type Action =
  /** Status only: the codespace is recorded on this node (the write reserves the capacity). */
  | { readonly kind: 'place'; readonly nodeName: string }
  | { readonly kind: 'ensureRunning'; readonly nodeName: string }
  | { readonly kind: 'stop'; readonly nodeName: string; readonly reason: 'User' }
  | { readonly kind: 'remove'; readonly nodeName: string }
  /** Deletion finished: remove the object from the store. */
  | { readonly kind: 'finalize' }
  /** Status only: the codespace is Failed; the reason is what the user reads. */
  | { readonly kind: 'markFailed'; readonly reason: string }
  /** A spec write: the node stopped the codespace for idleness, so nothing may restart it. */
  | { readonly kind: 'setRunningFalse'; readonly reason: 'Idle' };

/** One container reported for this codespace, with when its node's report was received. */
export interface ObservedOnNode {
  readonly nodeName: string;
  readonly container: ObservedContainer;
  /** The orchestrator's clock when the report carrying it was accepted. */
  readonly observedAtMs: number;
}

export interface PlanInput {
  readonly codespace: Readonly<Codespace>;
  /** Every container with this codespace's uid on every known node. */
  readonly observed: readonly ObservedOnNode[];
  /** Every node the codespace or its containers name, with health judged by the caller. */
  readonly nodes: ReadonlyMap<string, JudgedNode>;
  /**
   * Placement's snapshot, counting every assignment including our own since the last beats: the
   * views, or an index of them (the same answers without scanning every node per placement).
   */
  readonly nodeViews: readonly NodeView[] | PlacementIndex;
  /**
   * Optional, for a caller that plans many keys under one judgement: the names of the nodes in
   * `nodes` judged anything but Ready. Placement then looks up only these instead of every node's
   * health. Must agree with `nodes`.
   */
  readonly notReadyNodeNames?: ReadonlySet<string>;
  readonly nowMs: number;
  /**
   * When the caller could last see again (became leader, store back): phase deadlines never run
   * through the orchestrator's own blind spells, as node grace clocks do not.
   */
  readonly visibleSinceMs?: number;
  readonly config: ReconcilerConfig;
}

export interface Plan {
  readonly actions: Action[];
  readonly status: CodespaceStatus;
  /** Look again after this long even if nothing changes (a deadline or a backoff is due). */
  readonly requeueAfterMs?: number;
}
