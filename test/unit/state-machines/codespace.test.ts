import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  createCodespaceMachine,
  codespaceMachine,
  codespaceStates,
  codespaceEventTypes,
  crashCountResetAfterRunningMs,
  initialCodespaceState,
  maxConsecutiveCrashes,
  nextCodespaceState,
  phaseDeadlineAtMs,
  restartBackoffMs,
  restoreCodespaceState,
  scheduledDeadlineMs,
  startingDeadlineMs,
  stoppingDeadlineMs,
  deletingDeadlineMs,
  type CodespaceEvent,
  type CodespaceMachineState,
  type CodespaceState,
  type CodespaceStep,
} from '../../../src/state-machines/index.js';
import { aCodespaceEvent } from './events.js';

/** Applies events in order and returns every step. */
function run(from: CodespaceMachineState, events: readonly CodespaceEvent[]): CodespaceStep[] {
  const steps: CodespaceStep[] = [];
  let current = from;
  for (const event of events) {
    const step = nextCodespaceState(current, event);
    steps.push(step);
    current = step;
  }
  return steps;
}

function last(steps: CodespaceStep[]): CodespaceStep {
  const step = steps.at(-1);
  if (step === undefined) throw new Error('no steps');
  return step;
}

/** A codespace on node n1, started at 1 000 ms and now Starting. */
function starting(): CodespaceStep {
  return last(
    run(initialCodespaceState(0), [
      { type: 'PLACED', atMs: 500, nodeName: 'n1' },
      { type: 'START_REQUESTED', atMs: 1000 },
    ]),
  );
}

describe('codespace lifecycle', () => {
  it('starts Pending with no node, at the time it was created', () => {
    expect(initialCodespaceState(42)).toMatchObject({
      phase: 'Pending',
      context: { phaseSinceMs: 42, nodeName: undefined, restartCount: 0 },
    });
  });

  it('goes Pending → Scheduled → Starting → Running → Stopping → Stopped with the commands to run', () => {
    const steps = run(initialCodespaceState(0), [
      { type: 'PLACED', atMs: 1, nodeName: 'n1' },
      { type: 'START_REQUESTED', atMs: 2 },
      { type: 'CONTAINER_STARTED', atMs: 3 },
      { type: 'STOP_REQUESTED', atMs: 4 },
      { type: 'CONTAINER_STOPPED', atMs: 5, reason: 'User' },
    ]);
    expect(steps.map((s) => [s.phase, s.actions])).toEqual([
      ['Scheduled', []],
      ['Starting', ['startContainer']],
      ['Running', []],
      ['Stopping', ['stopContainer']],
      ['Stopped', []],
    ]);
    expect(last(steps).context).toMatchObject({ nodeName: 'n1', stopReason: 'User', phaseSinceMs: 5 });
  });

  it('records the reason the node gives when it stops a running codespace itself', () => {
    const running = nextCodespaceState(starting(), { type: 'CONTAINER_STARTED', atMs: 2000 });
    const stopped = nextCodespaceState(running, { type: 'CONTAINER_STOPPED', atMs: 3000, reason: 'Idle' });
    expect(stopped).toMatchObject({ phase: 'Stopped', context: { stopReason: 'Idle' } });
  });

  it('keeps the requested stop reason when the container reports its exit', () => {
    const running = nextCodespaceState(starting(), { type: 'CONTAINER_STARTED', atMs: 2000 });
    const stopping = nextCodespaceState(running, {
      type: 'STOP_REQUESTED',
      atMs: 3000,
      reason: 'NodeTerminating',
    });
    const stopped = nextCodespaceState(stopping, { type: 'CONTAINER_STOPPED', atMs: 3100, reason: 'User' });
    expect(stopped.context.stopReason).toBe('NodeTerminating');
  });

  it('wakes a stopped codespace through Pending so that it is placed again, forgetting why it stopped', () => {
    const stopped = restoreCodespaceState('Stopped', { phaseSinceMs: 0, nodeName: 'n1', stopReason: 'Idle' });
    const pending = nextCodespaceState(stopped, { type: 'RUN_REQUESTED', atMs: 10 });
    expect(pending).toMatchObject({
      phase: 'Pending',
      context: { nodeName: undefined, stopReason: undefined, phaseSinceMs: 10 },
    });
  });

  it('reschedules a running codespace whose node was lost, saying why', () => {
    const running = nextCodespaceState(starting(), { type: 'CONTAINER_STARTED', atMs: 2000 });
    expect(nextCodespaceState(running, { type: 'NODE_LOST', atMs: 3000 })).toMatchObject({
      phase: 'Pending',
      context: { nodeName: undefined, stopReason: 'NodeLost' },
    });
  });

  it('deletes through Deleting, asking for the container and volume to be removed, then is done', () => {
    const running = nextCodespaceState(starting(), { type: 'CONTAINER_STARTED', atMs: 2000 });
    const deleting = nextCodespaceState(running, { type: 'DELETE_REQUESTED', atMs: 3000 });
    expect(deleting).toMatchObject({ phase: 'Deleting', actions: ['removeContainer'], done: false });
    expect(nextCodespaceState(deleting, { type: 'REMOVED', atMs: 3100 })).toMatchObject({
      phase: 'Deleted',
      done: true,
    });
  });

  it('reaches every state from a new codespace', () => {
    const seen = new Set<CodespaceState>(['Pending']);
    let frontier: CodespaceMachineState[] = [initialCodespaceState(0)];
    // Breadth-first over phases, with events late enough that every deadline and backoff has passed.
    for (let depth = 0; depth < 8 && frontier.length > 0; depth += 1) {
      const next: CodespaceMachineState[] = [];
      for (const state of frontier) {
        for (const type of codespaceEventTypes) {
          const step = nextCodespaceState(state, aCodespaceEvent(type, 10_000_000 * (depth + 1)));
          if (step.accepted && !seen.has(step.phase)) {
            seen.add(step.phase);
            next.push(step);
          }
        }
      }
      frontier = next;
    }
    expect([...seen].sort()).toEqual([...codespaceStates].sort());
  });
});

describe('codespace deadlines', () => {
  const cases: Array<{ phase: CodespaceState; deadlineMs: number; reason: string; message: string }> = [
    {
      phase: 'Scheduled',
      deadlineMs: scheduledDeadlineMs,
      reason: 'ScheduleDeadlineExceeded',
      message: 'was placed on node n1 but could not be started there within 30 s; retry to place it again',
    },
    {
      phase: 'Starting',
      deadlineMs: startingDeadlineMs,
      reason: 'StartDeadlineExceeded',
      message: 'did not become ready within 120 s on node n1; retry or force stop',
    },
    {
      phase: 'Stopping',
      deadlineMs: stoppingDeadlineMs,
      reason: 'StopDeadlineExceeded',
      message: 'did not stop within 60 s on node n1; retry or force stop',
    },
    {
      phase: 'Deleting',
      deadlineMs: deletingDeadlineMs,
      reason: 'DeleteDeadlineExceeded',
      message: 'was not removed within 120 s on node n1; retry the delete',
    },
  ];

  for (const { phase, deadlineMs, reason, message } of cases) {
    it(`${phase} ends in Failed with ${reason} once its ${deadlineMs} ms deadline has passed, and not before`, () => {
      const from = restoreCodespaceState(phase, { phaseSinceMs: 1000, nodeName: 'n1' });
      expect(phaseDeadlineAtMs(phase, from.context)).toBe(1000 + deadlineMs);
      const early = nextCodespaceState(from, { type: 'DEADLINE_EXCEEDED', atMs: 1000 + deadlineMs - 1 });
      expect(early).toMatchObject({ accepted: false, phase });
      const failed = nextCodespaceState(from, { type: 'DEADLINE_EXCEEDED', atMs: 1000 + deadlineMs });
      expect(failed).toMatchObject({
        accepted: true,
        phase: 'Failed',
        actions: ['reportFailure'],
        context: { failure: { reason, message } },
      });
    });
  }

  it('has no deadline in Pending, Running, Stopped or Failed', () => {
    for (const phase of ['Pending', 'Running', 'Stopped', 'Failed', 'Deleted'] as const) {
      const from = restoreCodespaceState(phase, { phaseSinceMs: 0, nodeName: 'n1' });
      expect(phaseDeadlineAtMs(phase, from.context)).toBeUndefined();
      expect(
        nextCodespaceState(from, { type: 'DEADLINE_EXCEEDED', atMs: Number.MAX_SAFE_INTEGER }).phase,
      ).toBe(phase);
    }
  });

  it('counts the Scheduled deadline from the end of a crash backoff', () => {
    const crashed = nextCodespaceState(starting(), { type: 'CONTAINER_CRASHED', atMs: 2000 });
    expect(crashed.context.retryNotBeforeMs).toBe(2000 + restartBackoffMs(1));
    expect(phaseDeadlineAtMs('Scheduled', crashed.context)).toBe(
      2000 + restartBackoffMs(1) + scheduledDeadlineMs,
    );
  });

  it('lets a user retry a failed start from Pending, and forgets the failure', () => {
    const failed = nextCodespaceState(starting(), {
      type: 'DEADLINE_EXCEEDED',
      atMs: 1000 + startingDeadlineMs,
    });
    const retried = nextCodespaceState(failed, { type: 'RETRY', atMs: 200_000 });
    expect(retried).toMatchObject({
      phase: 'Pending',
      context: { failure: undefined, restartCount: 0, nodeName: undefined },
    });
  });

  it('force-stops a failed start by stopping its container first', () => {
    const failed = nextCodespaceState(starting(), {
      type: 'DEADLINE_EXCEEDED',
      atMs: 1000 + startingDeadlineMs,
    });
    expect(nextCodespaceState(failed, { type: 'STOP_REQUESTED', atMs: 200_000 })).toMatchObject({
      phase: 'Stopping',
      actions: ['stopContainer'],
    });
  });

  it('retries a timed-out delete as a delete, never bringing the codespace back', () => {
    const deleting = restoreCodespaceState('Deleting', {
      phaseSinceMs: 0,
      nodeName: 'n1',
      deletionRequested: true,
    });
    const failed = nextCodespaceState(deleting, { type: 'DEADLINE_EXCEEDED', atMs: deletingDeadlineMs });
    expect(failed.phase).toBe('Failed');
    const retried = nextCodespaceState(failed, { type: 'RETRY', atMs: deletingDeadlineMs + 1 });
    expect(retried).toMatchObject({
      phase: 'Deleting',
      actions: ['removeContainer'],
      context: { failure: undefined },
    });
  });
});

describe('codespace crash restarts', () => {
  it('restarts after a crash with a growing backoff, refusing to start early', () => {
    let state: CodespaceStep = starting();
    let now = 1000;
    const waits: number[] = [];
    for (let crash = 1; crash < maxConsecutiveCrashes; crash += 1) {
      now += 100;
      state = nextCodespaceState(state, { type: 'CONTAINER_CRASHED', atMs: now, exitCode: 137 });
      expect(state).toMatchObject({
        phase: 'Scheduled',
        actions: ['scheduleRetry'],
        context: { restartCount: crash, stopReason: 'Crashed' },
      });
      const retryAt = state.context.retryNotBeforeMs ?? 0;
      waits.push(retryAt - now);
      expect(nextCodespaceState(state, { type: 'START_REQUESTED', atMs: retryAt - 1 }).accepted).toBe(false);
      now = retryAt;
      state = nextCodespaceState(state, { type: 'START_REQUESTED', atMs: now });
      expect(state.phase).toBe('Starting');
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000]);
  });

  it(`fails after ${maxConsecutiveCrashes} crashes in a row, with the exit code and what to do`, () => {
    let state: CodespaceStep = starting();
    let now = 1000;
    for (let crash = 1; crash <= maxConsecutiveCrashes; crash += 1) {
      now += 1;
      state = nextCodespaceState(state, { type: 'CONTAINER_CRASHED', atMs: now, exitCode: 2 });
      if (crash < maxConsecutiveCrashes) {
        now = state.context.retryNotBeforeMs ?? now;
        state = nextCodespaceState(state, { type: 'START_REQUESTED', atMs: now });
        state = nextCodespaceState(state, { type: 'CONTAINER_STARTED', atMs: now + 1 });
      }
    }
    expect(state).toMatchObject({
      phase: 'Failed',
      actions: ['reportFailure'],
      context: {
        restartCount: maxConsecutiveCrashes,
        failure: {
          reason: 'CrashLoop',
          message:
            'crashed 5 times in a row on node n1 (last exit code 2); check the image and its start command, then retry',
        },
      },
    });
  });

  it('starts counting again after a crash that follows a long healthy run', () => {
    const from = restoreCodespaceState('Running', {
      phaseSinceMs: 0,
      nodeName: 'n1',
      restartCount: maxConsecutiveCrashes - 1,
    });
    const early = nextCodespaceState(from, {
      type: 'CONTAINER_CRASHED',
      atMs: crashCountResetAfterRunningMs - 1,
    });
    expect(early.phase).toBe('Failed');
    const late = nextCodespaceState(from, { type: 'CONTAINER_CRASHED', atMs: crashCountResetAfterRunningMs });
    expect(late).toMatchObject({ phase: 'Scheduled', context: { restartCount: 1 } });
  });

  it('forgets earlier crashes after a clean stop', () => {
    const from = restoreCodespaceState('Stopping', { phaseSinceMs: 0, nodeName: 'n1', restartCount: 3 });
    expect(
      nextCodespaceState(from, { type: 'CONTAINER_STOPPED', atMs: 1, reason: 'User' }).context.restartCount,
    ).toBe(0);
  });
});

describe('codespace machine with other bounds', () => {
  it('uses its own deadlines, crash limit and backoff, in its guards and its messages', () => {
    const machine = createCodespaceMachine({
      startingDeadlineMs: 5000,
      maxConsecutiveCrashes: 2,
      restartBackoffBaseMs: 100,
    });
    const from = restoreCodespaceState('Starting', { phaseSinceMs: 0, nodeName: 'n1' }, { machine });
    expect(
      nextCodespaceState(from, { type: 'DEADLINE_EXCEEDED', atMs: 5000 }, { machine }).context.failure
        ?.message,
    ).toBe('did not become ready within 5 s on node n1; retry or force stop');
    const crashed = nextCodespaceState(from, { type: 'CONTAINER_CRASHED', atMs: 10 }, { machine });
    expect(crashed.context.retryNotBeforeMs).toBe(110);
    const again = nextCodespaceState(
      restoreCodespaceState('Starting', { ...crashed.context, phaseSinceMs: 200 }, { machine }),
      { type: 'CONTAINER_CRASHED', atMs: 300 },
      { machine },
    );
    expect(again).toMatchObject({ phase: 'Failed', context: { failure: { reason: 'CrashLoop' } } });
  });
});

describe('codespace machine actions are provided from outside', () => {
  it('runs the provided implementations, with the context, when used as an actor', () => {
    const calls: string[] = [];
    const machine = codespaceMachine.provide({
      actions: {
        startContainer: ({ context }) => calls.push(`start on ${context.nodeName}`),
        stopContainer: ({ context }) => calls.push(`stop on ${context.nodeName}`),
      },
    });
    const actor = createActor(machine, { input: { nowMs: 0 } }).start();
    actor.send({ type: 'PLACED', atMs: 1, nodeName: 'n7' });
    actor.send({ type: 'START_REQUESTED', atMs: 2 });
    actor.send({ type: 'CONTAINER_STARTED', atMs: 3 });
    actor.send({ type: 'STOP_REQUESTED', atMs: 4 });
    expect(calls).toEqual(['start on n7', 'stop on n7']);
    expect(actor.getSnapshot().value).toBe('Stopping');
    actor.stop();
  });
});
