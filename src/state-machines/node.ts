/**
 * A node's lifecycle as the orchestrator judges it, on its own clock: heartbeats make it Ready;
 * silence makes it NotReady, then Lost after a grace period; a lost node is fenced (terminated
 * and confirmed) before anything moves; drained nodes are terminated. Pure data, like the
 * codespace machine: actions are named here and provided by the shell.
 *
 * Joining ─HEARTBEAT_OK(ready)→ Ready ─BEAT_AGE_EXCEEDED→ NotReady ─GRACE_EXPIRED→ Lost ─FENCED→ Terminated
 * Joining/Ready/NotReady ─DRAIN_REQUESTED→ Draining ─DRAINED (terminate) … TERMINATED→ Terminated
 */
import { assign, setup } from 'xstate';

export type NodeState = 'Joining' | 'Ready' | 'NotReady' | 'Lost' | 'Draining' | 'Terminated';

export const nodeStates: readonly NodeState[] = [
  'Joining',
  'Ready',
  'NotReady',
  'Lost',
  'Draining',
  'Terminated',
];

/** Silence this long after the last beat makes a node NotReady (Kubernetes' node-monitor grace period). */
export const nodeNotReadyAfterMs = 40_000;
/** Silence this long after the last beat makes a node Lost, to be fenced. */
export const nodeLostGraceMs = 120_000;

/** The node machine's bounds; the reconciler's config may override them. */
export interface NodeTiming {
  readonly nodeNotReadyAfterMs: number;
  readonly nodeLostGraceMs: number;
}

export const nodeTimingDefaults: NodeTiming = { nodeNotReadyAfterMs, nodeLostGraceMs };

export interface NodeMachineContext {
  /** Start of the current silence: the last accepted beat, or a restart of our own grace clock. */
  readonly silenceSinceMs: number;
  readonly lastHeartbeatMs: number | undefined;
  /** Draining finished: nothing left on the node, termination asked. */
  readonly drained: boolean;
}

/** Every event carries `atMs`, the orchestrator's clock (never the node's). */
export type NodeEvent =
  /** A fresh beat was accepted; `ready` is the node's own word that it can serve (image, proxy). */
  | { type: 'HEARTBEAT_OK'; atMs: number; ready: boolean }
  /** Silent for `nodeNotReadyAfterMs`; refused if sent early. */
  | { type: 'BEAT_AGE_EXCEEDED'; atMs: number }
  /** Silent for `nodeLostGraceMs`; refused if sent early. */
  | { type: 'GRACE_EXPIRED'; atMs: number }
  /**
   * Restart the grace clock: after the orchestrator's own outage, silence it could not hear
   * is not the node's fault.
   */
  | { type: 'GRACE_RESET'; atMs: number }
  /** The fleet provider confirmed the lost node is terminated: its codespaces may move. */
  | { type: 'FENCED'; atMs: number }
  | { type: 'DRAIN_REQUESTED'; atMs: number }
  /** No codespace is left on the draining node. */
  | { type: 'DRAINED'; atMs: number }
  /** The instance is gone (scale-in or an outside termination). */
  | { type: 'TERMINATED'; atMs: number };

export type NodeEventType = NodeEvent['type'];

export const nodeEventTypes: readonly NodeEventType[] = [
  'HEARTBEAT_OK',
  'BEAT_AGE_EXCEEDED',
  'GRACE_EXPIRED',
  'GRACE_RESET',
  'FENCED',
  'DRAIN_REQUESTED',
  'DRAINED',
  'TERMINATED',
];

export type NodeActionName = 'fenceNode' | 'drainNode' | 'terminateInstance' | 'rescheduleCodespaces';

export const nodeActionNames: readonly NodeActionName[] = [
  'fenceNode',
  'drainNode',
  'terminateInstance',
  'rescheduleCodespaces',
];

export interface NodeMachineInput {
  /** When the node was registered or launched: a node that never beats is silent since then. */
  readonly nowMs: number;
}

/** Only a Ready node takes new codespaces. */
export function isNodeSchedulable(state: NodeState): boolean {
  return state === 'Ready';
}

/** When a silent node becomes NotReady, if nothing is heard before. */
export function nodeNotReadyAtMs(
  context: Pick<NodeMachineContext, 'silenceSinceMs'>,
  timing: NodeTiming = nodeTimingDefaults,
): number {
  return context.silenceSinceMs + timing.nodeNotReadyAfterMs;
}

/** When a silent node becomes Lost, if nothing is heard before. */
export function nodeLostAtMs(
  context: Pick<NodeMachineContext, 'silenceSinceMs'>,
  timing: NodeTiming = nodeTimingDefaults,
): number {
  return context.silenceSinceMs + timing.nodeLostGraceMs;
}

const beatAccepted = { actions: 'recordBeat' } as const;
const terminated = { target: 'Terminated' } as const;
const graceReset = { actions: 'restartGraceClock' } as const;

/** Builds the machine for the given bounds (defaults: `nodeTimingDefaults`). */
export function createNodeMachine(overrides: Partial<NodeTiming> = {}) {
  const timing: NodeTiming = { ...nodeTimingDefaults, ...overrides };
  return setup({
    types: {
      context: {} as NodeMachineContext,
      events: {} as NodeEvent,
      input: {} as NodeMachineInput,
    },
    actions: {
      /** Terminate the instance through the fleet provider and confirm it (then FENCED). */
      fenceNode: () => {},
      /** Tell the node to stop its codespaces with reason NodeTerminating; no new placements. */
      drainNode: () => {},
      /** Ask the fleet provider to terminate the drained instance (then TERMINATED). */
      terminateInstance: () => {},
      /** The node is gone for sure: move its codespaces (NODE_LOST to each). */
      rescheduleCodespaces: () => {},

      recordBeat: assign(({ event }) => ({ lastHeartbeatMs: event.atMs, silenceSinceMs: event.atMs })),
      restartGraceClock: assign({ silenceSinceMs: ({ event }) => event.atMs }),
      markDrained: assign({ drained: true }),
    },
    guards: {
      reportsReady: ({ event }) => event.type === 'HEARTBEAT_OK' && event.ready,
      beatTooOld: ({ context, event }) => event.atMs >= nodeNotReadyAtMs(context, timing),
      gracePassed: ({ context, event }) => event.atMs >= nodeLostAtMs(context, timing),
    },
  }).createMachine({
    id: 'node',
    initial: 'Joining',
    context: ({ input }) => ({ silenceSinceMs: input.nowMs, lastHeartbeatMs: undefined, drained: false }),
    states: {
      Joining: {
        on: {
          HEARTBEAT_OK: [{ target: 'Ready', guard: 'reportsReady', actions: 'recordBeat' }, beatAccepted],
          BEAT_AGE_EXCEEDED: { target: 'NotReady', guard: 'beatTooOld' },
          GRACE_RESET: graceReset,
          DRAIN_REQUESTED: 'Draining',
          TERMINATED: terminated,
        },
      },
      Ready: {
        on: {
          HEARTBEAT_OK: [
            { guard: 'reportsReady', actions: 'recordBeat' },
            { target: 'NotReady', actions: 'recordBeat' },
          ],
          BEAT_AGE_EXCEEDED: { target: 'NotReady', guard: 'beatTooOld' },
          GRACE_RESET: graceReset,
          DRAIN_REQUESTED: 'Draining',
          TERMINATED: terminated,
        },
      },
      NotReady: {
        on: {
          // A node that beats but says it cannot serve is alive: it stays NotReady and is never Lost.
          HEARTBEAT_OK: [{ target: 'Ready', guard: 'reportsReady', actions: 'recordBeat' }, beatAccepted],
          GRACE_EXPIRED: { target: 'Lost', guard: 'gracePassed' },
          GRACE_RESET: graceReset,
          DRAIN_REQUESTED: 'Draining',
          TERMINATED: terminated,
        },
      },
      Lost: {
        // Fence before you move: a silent node may still serve, so it is terminated (and that
        // confirmed) before its codespaces go elsewhere. A late beat does not save it: fencing is
        // already under way and the node's codespaces are about to move.
        entry: 'fenceNode',
        on: {
          FENCED: terminated,
          TERMINATED: terminated,
        },
      },
      Draining: {
        entry: 'drainNode',
        on: {
          HEARTBEAT_OK: beatAccepted,
          DRAINED: { actions: ['markDrained', 'terminateInstance'] },
          // A draining node that falls silent may still hold codespaces: it must be fenced too.
          GRACE_EXPIRED: { target: 'Lost', guard: 'gracePassed' },
          GRACE_RESET: graceReset,
          TERMINATED: terminated,
        },
      },
      Terminated: {
        type: 'final',
        entry: 'rescheduleCodespaces',
      },
    },
  });
}

export type NodeMachine = ReturnType<typeof createNodeMachine>;

/** The machine with the default bounds. */
export const nodeMachine: NodeMachine = createNodeMachine();
