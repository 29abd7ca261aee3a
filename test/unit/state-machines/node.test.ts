import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  createNodeMachine,
  initialNodeState,
  nodeNotReadyAfterMs,
  isNodeSchedulable,
  nextNodeState,
  nodeEventTypes,
  nodeLostGraceMs,
  nodeMachine,
  nodeStates,
  type NodeEventType,
  type NodeMachineState,
  type NodeState,
} from '../../../src/state-machines/index.js';
import { aNodeEvent } from './events.js';

/**
 * State × event for a node silent since 0, with events late enough for any grace to have
 * passed; HEARTBEAT_OK reports ready. Anything not listed is refused.
 */
const allowed: Record<NodeState, Partial<Record<NodeEventType, NodeState>>> = {
  Joining: {
    HEARTBEAT_OK: 'Ready',
    BEAT_AGE_EXCEEDED: 'NotReady',
    GRACE_RESET: 'Joining',
    DRAIN_REQUESTED: 'Draining',
    TERMINATED: 'Terminated',
  },
  Ready: {
    HEARTBEAT_OK: 'Ready',
    BEAT_AGE_EXCEEDED: 'NotReady',
    GRACE_RESET: 'Ready',
    DRAIN_REQUESTED: 'Draining',
    TERMINATED: 'Terminated',
  },
  NotReady: {
    HEARTBEAT_OK: 'Ready',
    GRACE_EXPIRED: 'Lost',
    GRACE_RESET: 'NotReady',
    DRAIN_REQUESTED: 'Draining',
    TERMINATED: 'Terminated',
  },
  Lost: { FENCED: 'Terminated', TERMINATED: 'Terminated' },
  Draining: {
    HEARTBEAT_OK: 'Draining',
    DRAINED: 'Draining',
    GRACE_EXPIRED: 'Lost',
    GRACE_RESET: 'Draining',
    TERMINATED: 'Terminated',
  },
  Terminated: {},
};

const late = 10_000_000;

function at(state: NodeState, silenceSinceMs = 0): NodeMachineState {
  return { state, context: { silenceSinceMs, lastHeartbeatMs: silenceSinceMs, drained: false } };
}

function walk(from: NodeMachineState, events: ReturnType<typeof aNodeEvent>[]) {
  let current = from;
  return events.map((event) => {
    const step = nextNodeState(current, event);
    current = step;
    return step;
  });
}

describe('node transition table', () => {
  for (const state of nodeStates) {
    it(`${state}: allows exactly the listed events and refuses the rest unchanged`, () => {
      for (const type of nodeEventTypes) {
        const from = at(state);
        const step = nextNodeState(from, aNodeEvent(type, late));
        const expected = allowed[state][type];
        if (expected === undefined) {
          expect({ type, accepted: step.accepted, state: step.state, actions: step.actions }).toEqual({
            type,
            accepted: false,
            state,
            actions: [],
          });
          expect(step.context).toEqual(from.context);
        } else {
          expect({ type, accepted: step.accepted, state: step.state }).toEqual({
            type,
            accepted: true,
            state: expected,
          });
        }
      }
    });
  }

  it('lists exactly the events each state of the machine handles', () => {
    for (const state of nodeStates) {
      expect({ state, handled: [...nodeMachine.getStateNodeById(`node.${state}`).ownEvents].sort() }).toEqual(
        {
          state,
          handled: Object.keys(allowed[state]).sort(),
        },
      );
    }
  });
});

describe('node lifecycle', () => {
  it('joins, and becomes schedulable only once it reports ready', () => {
    const steps = walk(initialNodeState(0), [
      aNodeEvent('HEARTBEAT_OK', 1, { ready: false }),
      aNodeEvent('HEARTBEAT_OK', 2),
    ]);
    expect(steps.map((s) => s.state)).toEqual(['Joining', 'Ready']);
    expect(isNodeSchedulable('Joining')).toBe(false);
    expect(isNodeSchedulable('Ready')).toBe(true);
    expect(nodeStates.filter(isNodeSchedulable)).toEqual(['Ready']);
  });

  it('goes NotReady once the last beat is too old (not before) or on its own not-ready report', () => {
    expect(
      nextNodeState(at('Ready', 1000), aNodeEvent('BEAT_AGE_EXCEEDED', 1000 + nodeNotReadyAfterMs - 1))
        .accepted,
    ).toBe(false);
    const steps = walk(at('Ready', 1000), [
      aNodeEvent('BEAT_AGE_EXCEEDED', 1000 + nodeNotReadyAfterMs),
      aNodeEvent('HEARTBEAT_OK', 1000 + nodeNotReadyAfterMs + 1),
    ]);
    expect(steps.map((s) => s.state)).toEqual(['NotReady', 'Ready']);
    expect(nextNodeState(at('Ready'), aNodeEvent('HEARTBEAT_OK', 5, { ready: false })).state).toBe(
      'NotReady',
    );
  });

  it('follows the bounds it was built with', () => {
    const machine = createNodeMachine({ nodeNotReadyAfterMs: 1000, nodeLostGraceMs: 5000 });
    const steps = [aNodeEvent('BEAT_AGE_EXCEEDED', 1000), aNodeEvent('GRACE_EXPIRED', 5000)];
    let current: NodeMachineState = initialNodeState(0, { machine });
    const states = steps.map((event) => {
      current = nextNodeState(current, event, { machine });
      return current.state;
    });
    expect(states).toEqual(['NotReady', 'Lost']);
  });

  it('becomes Lost only after the grace period of silence, and asks for fencing', () => {
    const notReady = at('NotReady', 1000);
    expect(nextNodeState(notReady, aNodeEvent('GRACE_EXPIRED', 1000 + nodeLostGraceMs - 1)).accepted).toBe(
      false,
    );
    expect(nextNodeState(notReady, aNodeEvent('GRACE_EXPIRED', 1000 + nodeLostGraceMs))).toMatchObject({
      state: 'Lost',
      actions: ['fenceNode'],
    });
  });

  it('never calls a node Lost while it keeps beating, even when it says it is not ready', () => {
    const steps = walk(at('NotReady', 0), [
      aNodeEvent('HEARTBEAT_OK', 30_000, { ready: false }),
      aNodeEvent('GRACE_EXPIRED', 60_000),
      aNodeEvent('HEARTBEAT_OK', 65_000, { ready: false }),
      aNodeEvent('GRACE_EXPIRED', 100_000),
    ]);
    expect(steps.map((s) => [s.state, s.accepted])).toEqual([
      ['NotReady', true],
      ['NotReady', false],
      ['NotReady', true],
      ['NotReady', false],
    ]);
  });

  it('restarts the grace clock after the orchestrator’s own outage', () => {
    const steps = walk(at('NotReady', 0), [
      aNodeEvent('GRACE_RESET', 35_000),
      aNodeEvent('GRACE_EXPIRED', 45_000),
    ]);
    expect(steps.map((s) => [s.state, s.accepted])).toEqual([
      ['NotReady', true],
      ['NotReady', false],
    ]);
    expect(nextNodeState(steps[1]!, aNodeEvent('GRACE_EXPIRED', 35_000 + nodeLostGraceMs)).state).toBe(
      'Lost',
    );
  });

  it('moves codespaces off a lost node only once it is fenced, ignoring a late beat', () => {
    const lost = at('Lost');
    expect(nextNodeState(lost, aNodeEvent('HEARTBEAT_OK', late)).accepted).toBe(false);
    expect(nextNodeState(lost, aNodeEvent('FENCED', late))).toMatchObject({
      state: 'Terminated',
      actions: ['rescheduleCodespaces'],
    });
  });

  it('drains, asks for termination once drained, and ends Terminated', () => {
    const steps = walk(at('Ready'), [
      aNodeEvent('DRAIN_REQUESTED', 1),
      aNodeEvent('DRAINED', 2),
      aNodeEvent('TERMINATED', 3),
    ]);
    expect(steps.map((s) => [s.state, s.actions])).toEqual([
      ['Draining', ['drainNode']],
      ['Draining', ['terminateInstance']],
      ['Terminated', ['rescheduleCodespaces']],
    ]);
    expect(steps[1]!.context.drained).toBe(true);
  });

  it('fences a draining node that falls silent', () => {
    expect(nextNodeState(at('Draining', 0), aNodeEvent('GRACE_EXPIRED', nodeLostGraceMs)).state).toBe('Lost');
  });

  it('reaches every state from a new node', () => {
    const seen = new Set<NodeState>(['Joining']);
    let frontier: NodeMachineState[] = [initialNodeState(0)];
    for (let depth = 0; depth < 6 && frontier.length > 0; depth += 1) {
      const next: NodeMachineState[] = [];
      for (const state of frontier) {
        for (const type of nodeEventTypes) {
          const step = nextNodeState(state, aNodeEvent(type, late * (depth + 1)));
          if (step.accepted && !seen.has(step.state)) {
            seen.add(step.state);
            next.push(step);
          }
        }
      }
      frontier = next;
    }
    expect([...seen].sort()).toEqual([...nodeStates].sort());
  });

  it('runs provided action implementations when used as an actor', () => {
    const fenced: number[] = [];
    const machine = nodeMachine.provide({
      actions: { fenceNode: ({ context }) => fenced.push(context.silenceSinceMs) },
    });
    const actor = createActor(machine, { input: { nowMs: 0 } }).start();
    actor.send({ type: 'HEARTBEAT_OK', atMs: 10, ready: true });
    actor.send({ type: 'BEAT_AGE_EXCEEDED', atMs: 10 + nodeNotReadyAfterMs });
    actor.send({ type: 'GRACE_EXPIRED', atMs: 10 + nodeLostGraceMs });
    expect(fenced).toEqual([10]);
    expect(actor.getSnapshot().value).toBe('Lost');
    actor.stop();
  });
});
