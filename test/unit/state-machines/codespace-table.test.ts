import { describe, expect, it } from 'vitest';
import {
  codespaceEventTypes,
  codespaceMachine,
  codespaceStates,
  nextCodespaceState,
  restoreCodespaceState,
  type CodespaceEventType,
  type CodespaceState,
} from '../../../src/state-machines/index.js';
import { aCodespaceEvent } from './events.js';

/**
 * The whole transition table, state × event, for a codespace on node n1 whose deadlines and
 * backoff have passed. Anything not listed must be refused: same phase, same context, no actions.
 */
const allowed: Record<CodespaceState, Partial<Record<CodespaceEventType, CodespaceState>>> = {
  Pending: { PLACED: 'Scheduled', STOP_REQUESTED: 'Stopped', DELETE_REQUESTED: 'Deleting' },
  Scheduled: {
    START_REQUESTED: 'Starting',
    CONTAINER_STARTED: 'Running',
    STOP_REQUESTED: 'Stopped',
    DELETE_REQUESTED: 'Deleting',
    NODE_LOST: 'Pending',
    DEADLINE_EXCEEDED: 'Failed',
  },
  Starting: {
    CONTAINER_STARTED: 'Running',
    CONTAINER_CRASHED: 'Scheduled',
    CONTAINER_STOPPED: 'Stopped',
    STOP_REQUESTED: 'Stopping',
    DELETE_REQUESTED: 'Deleting',
    NODE_LOST: 'Pending',
    DEADLINE_EXCEEDED: 'Failed',
  },
  Running: {
    CONTAINER_STOPPED: 'Stopped',
    CONTAINER_CRASHED: 'Scheduled',
    STOP_REQUESTED: 'Stopping',
    DELETE_REQUESTED: 'Deleting',
    NODE_LOST: 'Pending',
  },
  Stopping: {
    CONTAINER_STOPPED: 'Stopped',
    CONTAINER_CRASHED: 'Stopped',
    NODE_LOST: 'Stopped',
    DELETE_REQUESTED: 'Deleting',
    DEADLINE_EXCEEDED: 'Failed',
  },
  Stopped: { RUN_REQUESTED: 'Pending', NODE_LOST: 'Stopped', DELETE_REQUESTED: 'Deleting' },
  Deleting: { REMOVED: 'Deleted', NODE_LOST: 'Deleted', DEADLINE_EXCEEDED: 'Failed' },
  Failed: {
    RETRY: 'Pending',
    CONTAINER_STARTED: 'Running',
    STOP_REQUESTED: 'Stopping',
    DELETE_REQUESTED: 'Deleting',
    NODE_LOST: 'Failed',
  },
  Deleted: {},
};

/** A Failed codespace whose delete timed out may only move towards removal. */
const allowedWhenFailedDeleting: Partial<Record<CodespaceEventType, CodespaceState>> = {
  RETRY: 'Deleting',
  DELETE_REQUESTED: 'Deleting',
  REMOVED: 'Deleted',
  NODE_LOST: 'Deleted',
};

const late = 10_000_000;

function stateOn(phase: CodespaceState, options: { deletionRequested?: boolean } = {}) {
  return restoreCodespaceState(phase, {
    phaseSinceMs: 0,
    nodeName: phase === 'Pending' ? undefined : 'n1',
    deletionRequested: options.deletionRequested ?? false,
  });
}

function checkRow(
  phase: CodespaceState,
  row: Partial<Record<CodespaceEventType, CodespaceState>>,
  deletionRequested: boolean,
) {
  for (const type of codespaceEventTypes) {
    const from = stateOn(phase, { deletionRequested });
    const step = nextCodespaceState(from, aCodespaceEvent(type, late));
    const expected = row[type];
    if (expected === undefined) {
      expect({ type, accepted: step.accepted, phase: step.phase, actions: step.actions }).toEqual({
        type,
        accepted: false,
        phase,
        actions: [],
      });
      expect(step.context).toEqual(from.context);
    } else {
      expect({ type, accepted: step.accepted, phase: step.phase }).toEqual({
        type,
        accepted: true,
        phase: expected,
      });
    }
  }
}

describe('codespace transition table', () => {
  it('covers every state', () => {
    expect(Object.keys(allowed).sort()).toEqual([...codespaceStates].sort());
  });

  for (const phase of codespaceStates) {
    it(`${phase}: allows exactly the listed events and refuses the rest unchanged`, () => {
      checkRow(phase, allowed[phase], false);
    });
  }

  it('Failed while deleting: allows only retrying the delete or finishing the removal', () => {
    checkRow('Failed', allowedWhenFailedDeleting, true);
  });

  it('Failed without a node: a force stop goes straight to Stopped', () => {
    const from = restoreCodespaceState('Failed', { phaseSinceMs: 0, nodeName: undefined });
    expect(nextCodespaceState(from, aCodespaceEvent('STOP_REQUESTED', late)).phase).toBe('Stopped');
  });

  it('lists exactly the events each state of the machine handles, so the table is the whole machine', () => {
    for (const phase of codespaceStates) {
      const handled = [...codespaceMachine.getStateNodeById(`codespace.${phase}`).ownEvents].sort();
      const listed = [
        ...new Set([
          ...Object.keys(allowed[phase]),
          ...(phase === 'Failed' ? Object.keys(allowedWhenFailedDeleting) : []),
        ]),
      ].sort();
      expect({ phase, handled }).toEqual({ phase, handled: listed });
    }
  });
});
