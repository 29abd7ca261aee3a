/** The reconciler's pure entry to the node machine, like `nextCodespaceState`. */
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  nodeMachine,
  type NodeActionName,
  type NodeEvent,
  type NodeMachine,
  type NodeMachineContext,
  type NodeState,
} from './node.js';

export type NodeSnapshot = SnapshotFrom<NodeMachine>;

export interface NodeStepOptions {
  /** A machine from `createNodeMachine(timing)`; default: the one with default bounds. */
  readonly machine?: NodeMachine;
}

export interface NodeMachineState {
  readonly state: NodeState;
  readonly context: NodeMachineContext;
}

export interface NodeStep extends NodeMachineState {
  readonly accepted: boolean;
  readonly actions: NodeActionName[];
  readonly snapshot: NodeSnapshot;
}

/** A node just registered (or launched) at `nowMs`: Joining, silent since then. */
export function initialNodeState(nowMs: number, options: NodeStepOptions = {}): NodeMachineState {
  const [snapshot] = initialTransition(options.machine ?? nodeMachine, { nowMs });
  return { state: snapshot.value, context: snapshot.context };
}

function snapshotOf(from: NodeSnapshot | NodeMachineState, machine: NodeMachine): NodeSnapshot {
  return 'state' in from ? machine.resolveState({ value: from.state, context: from.context }) : from;
}

/** Like `nextCodespaceState`: a refused event changes nothing and returns no actions. */
export function nextNodeState(
  from: NodeSnapshot | NodeMachineState,
  event: NodeEvent,
  options: NodeStepOptions = {},
): NodeStep {
  const machine = options.machine ?? nodeMachine;
  const snapshot = snapshotOf(from, machine);
  const accepted = snapshot.status === 'active' && snapshot.can(event);
  if (!accepted) return { state: snapshot.value, context: snapshot.context, accepted, actions: [], snapshot };
  const [next, actions] = transition(machine, snapshot, event);
  return {
    state: next.value,
    context: next.context,
    accepted,
    actions: actions.map((action) => action.type as NodeActionName),
    snapshot: next,
  };
}
