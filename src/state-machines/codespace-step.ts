/**
 * The reconciler's pure entry to the codespace machine: given where a codespace is and what just
 * happened, where does it go and what must be done. Nothing runs; the actions come back as names.
 */
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { codespaceMachine, type CodespaceMachine } from './codespace.js';
import type {
  CodespaceActionName,
  CodespaceEvent,
  CodespaceMachineContext,
  CodespaceState,
} from './codespace-types.js';

export type CodespaceSnapshot = SnapshotFrom<CodespaceMachine>;

export interface CodespaceStepOptions {
  /** A machine from `createCodespaceMachine(timing)`; default: the one with default bounds. */
  readonly machine?: CodespaceMachine;
}

/** A codespace's lifecycle position as the reconciler stores it. */
export interface CodespaceMachineState {
  readonly phase: CodespaceState;
  readonly context: CodespaceMachineContext;
}

export interface CodespaceStep extends CodespaceMachineState {
  /** Whether the event was allowed here; a refused event changes nothing and runs nothing. */
  readonly accepted: boolean;
  /** Named actions to execute, in order. */
  readonly actions: CodespaceActionName[];
  /** The record can be removed. */
  readonly done: boolean;
  readonly snapshot: CodespaceSnapshot;
}

/** A new codespace: Pending since `nowMs`. */
export function initialCodespaceState(
  nowMs: number,
  options: CodespaceStepOptions = {},
): CodespaceMachineState {
  const [snapshot] = initialTransition(options.machine ?? codespaceMachine, { nowMs });
  return { phase: snapshot.value, context: snapshot.context };
}

/** Rebuilds a snapshot from stored state; fields not given take a new codespace's defaults. */
export function restoreCodespaceState(
  phase: CodespaceState,
  context: Partial<CodespaceMachineContext> & Pick<CodespaceMachineContext, 'phaseSinceMs'>,
  options: CodespaceStepOptions = {},
): CodespaceSnapshot {
  const machine = options.machine ?? codespaceMachine;
  const defaults = initialCodespaceState(context.phaseSinceMs, options).context;
  return machine.resolveState({ value: phase, context: { ...defaults, ...context } });
}

function snapshotOf(
  from: CodespaceSnapshot | CodespaceMachineState,
  machine: CodespaceMachine,
): CodespaceSnapshot {
  return 'phase' in from ? machine.resolveState({ value: from.phase, context: from.context }) : from;
}

/**
 * Where the codespace goes on `event`, and the named actions to run. A refused event (not
 * allowed in this phase, or too early for its guard) comes back with `accepted: false`, the same
 * phase and context, and no actions.
 */
export function nextCodespaceState(
  from: CodespaceSnapshot | CodespaceMachineState,
  event: CodespaceEvent,
  options: CodespaceStepOptions = {},
): CodespaceStep {
  const machine = options.machine ?? codespaceMachine;
  const snapshot = snapshotOf(from, machine);
  const accepted = snapshot.status === 'active' && snapshot.can(event);
  if (!accepted) {
    const done = snapshot.status === 'done';
    return { phase: snapshot.value, context: snapshot.context, accepted, actions: [], done, snapshot };
  }
  const [next, actions] = transition(machine, snapshot, event);
  return {
    phase: next.value,
    context: next.context,
    accepted,
    actions: actions.map((action) => action.type as CodespaceActionName),
    done: next.status === 'done',
    snapshot: next,
  };
}
