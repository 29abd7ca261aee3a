/**
 * The codespace lifecycle as pure data. The reconciler feeds it what it decided or observed (as
 * events carrying the time) and executes the named actions it returns; implementations are
 * provided from outside with `.provide()`, so nothing here does I/O or reads the clock.
 *
 * Pending ─PLACED→ Scheduled ─START_REQUESTED→ Starting ─CONTAINER_STARTED→ Running
 * Running ─STOP_REQUESTED→ Stopping ─CONTAINER_STOPPED→ Stopped ─RUN_REQUESTED→ Pending
 * any ─DELETE_REQUESTED→ Deleting ─REMOVED→ Deleted (final: the record is removed)
 * transient phases ─DEADLINE_EXCEEDED→ Failed ─RETRY→ Pending (or Deleting if a delete was asked)
 * Starting/Running ─CONTAINER_CRASHED→ Scheduled after a backoff, or Failed after too many crashes
 *
 * The full table of allowed transitions is in test/unit/state-machines/codespace-table.test.ts.
 */
import { and, assign, setup } from 'xstate';
import type { Phase } from '../model/codespace.js';
import { crashLoopFailure, deadlineFailure } from './codespace-failures.js';
import {
  codespaceTimingDefaults,
  phaseDeadlineAtMs,
  restartBackoffMs,
  restartCountAfterCrash,
  type CodespaceTiming,
} from './codespace-timing.js';
import type { CodespaceEvent, CodespaceMachineContext, CodespaceMachineInput } from './codespace-types.js';

/** Accepted in every phase but Deleting and Deleted. */
const deleteRequested = { target: 'Deleting', actions: 'markDeletionRequested' } as const;

/**
 * Builds the machine for the given bounds (defaults: `codespaceTimingDefaults`); the guards and
 * failure messages use them, so they must match what the reconciler uses to send DEADLINE_EXCEEDED.
 */
export function createCodespaceMachine(overrides: Partial<CodespaceTiming> = {}) {
  const timing: CodespaceTiming = { ...codespaceTimingDefaults, ...overrides };
  return setup({
    types: {
      context: {} as CodespaceMachineContext,
      events: {} as CodespaceEvent,
      input: {} as CodespaceMachineInput,
    },
    actions: {
      // Commands for the shell to run; keyed by codespace uid on the node, so repeating one is safe.
      startContainer: () => {},
      stopContainer: () => {},
      removeContainer: () => {},
      /** Look again at `retryNotBeforeMs`. */
      scheduleRetry: () => {},
      /** Record the failure (condition, event) where the user sees it. */
      reportFailure: () => {},

      // The initial entry has no event time: it keeps the `nowMs` the machine was created with.
      enterPhase: assign({
        phaseSinceMs: ({ context, event }) => ('atMs' in event ? event.atMs : context.phaseSinceMs),
      }),
      assignNode: assign({
        nodeName: ({ event }) => (event.type === 'PLACED' ? event.nodeName : undefined),
        stopReason: undefined,
      }),
      releaseNode: assign({ nodeName: undefined }),
      markNodeLost: assign({ nodeName: undefined, stopReason: 'NodeLost' as const }),
      clearRetry: assign({ retryNotBeforeMs: undefined }),
      rememberStopReason: assign({
        stopReason: ({ context, event }) =>
          context.stopReason ??
          (event.type === 'STOP_REQUESTED' || event.type === 'CONTAINER_STOPPED'
            ? event.reason
            : undefined) ??
          'User',
      }),
      requestStop: assign({
        stopReason: ({ event }) => (event.type === 'STOP_REQUESTED' ? event.reason : undefined) ?? 'User',
      }),
      takeObservedStopReason: assign({
        stopReason: ({ event }) => (event.type === 'CONTAINER_STOPPED' ? event.reason : 'Crashed'),
      }),
      resetCrashes: assign({ restartCount: 0, retryNotBeforeMs: undefined, lastExitCode: undefined }),
      recordCrash: assign(({ context, event }, { wasRunning }: { wasRunning: boolean }) => {
        const restartCount = restartCountAfterCrash(context, { atMs: event.atMs, wasRunning }, timing);
        return {
          restartCount,
          retryNotBeforeMs: event.atMs + restartBackoffMs(restartCount, timing),
          lastExitCode: event.type === 'CONTAINER_CRASHED' ? event.exitCode : undefined,
          stopReason: 'Crashed' as const,
        };
      }),
      failOnCrashLoop: assign({
        failure: ({ context, event }) =>
          crashLoopFailure(context, event.type === 'CONTAINER_CRASHED' ? event.exitCode : undefined, timing),
      }),
      failOnDeadline: assign(({ context }, { phase }: { phase: Phase }) => ({
        failure: deadlineFailure(phase, context, timing),
      })),
      clearFailure: assign({ failure: undefined }),
      clearStopReason: assign({ stopReason: undefined }),
      markDeletionRequested: assign({ deletionRequested: true }),
    },
    guards: {
      deadlinePassed: ({ context, event }, { phase }: { phase: Phase }) => {
        const at = phaseDeadlineAtMs(phase, context, timing);
        return at !== undefined && event.atMs >= at;
      },
      crashLoopExhausted: ({ context, event }, { wasRunning }: { wasRunning: boolean }) =>
        restartCountAfterCrash(context, { atMs: event.atMs, wasRunning }, timing) >=
        timing.maxConsecutiveCrashes,
      backoffElapsed: ({ context, event }) => event.atMs >= (context.retryNotBeforeMs ?? 0),
      hasNode: ({ context }) => context.nodeName !== undefined,
      deletionRequested: ({ context }) => context.deletionRequested,
      deletionNotRequested: ({ context }) => !context.deletionRequested,
    },
  }).createMachine({
    id: 'codespace',
    initial: 'Pending',
    context: ({ input }) => ({
      nodeName: undefined,
      restartCount: 0,
      phaseSinceMs: input.nowMs,
      retryNotBeforeMs: undefined,
      stopReason: undefined,
      failure: undefined,
      deletionRequested: false,
      lastExitCode: undefined,
    }),
    states: {
      Pending: {
        entry: ['enterPhase', 'releaseNode'],
        on: {
          DELETE_REQUESTED: deleteRequested,
          PLACED: { target: 'Scheduled', actions: 'assignNode' },
          STOP_REQUESTED: { target: 'Stopped', actions: 'requestStop' },
        },
      },
      Scheduled: {
        entry: 'enterPhase',
        on: {
          DELETE_REQUESTED: deleteRequested,
          START_REQUESTED: { target: 'Starting', guard: 'backoffElapsed', actions: 'clearRetry' },
          CONTAINER_STARTED: { target: 'Running', actions: 'clearRetry' },
          // No start was sent since the last crash (or ever): there is nothing to stop.
          STOP_REQUESTED: { target: 'Stopped', actions: ['requestStop', 'resetCrashes'] },
          NODE_LOST: { target: 'Pending', actions: 'markNodeLost' },
          DEADLINE_EXCEEDED: {
            target: 'Failed',
            guard: { type: 'deadlinePassed', params: { phase: 'Scheduled' } },
            actions: { type: 'failOnDeadline', params: { phase: 'Scheduled' } },
          },
        },
      },
      Starting: {
        entry: ['enterPhase', 'startContainer'],
        on: {
          DELETE_REQUESTED: deleteRequested,
          CONTAINER_STARTED: 'Running',
          CONTAINER_CRASHED: [
            {
              target: 'Failed',
              guard: { type: 'crashLoopExhausted', params: { wasRunning: false } },
              actions: [{ type: 'recordCrash', params: { wasRunning: false } }, 'failOnCrashLoop'],
            },
            {
              target: 'Scheduled',
              actions: [{ type: 'recordCrash', params: { wasRunning: false } }, 'scheduleRetry'],
            },
          ],
          // e.g. the node stopped it for its own termination while it was starting.
          CONTAINER_STOPPED: { target: 'Stopped', actions: 'takeObservedStopReason' },
          STOP_REQUESTED: { target: 'Stopping', actions: 'requestStop' },
          NODE_LOST: { target: 'Pending', actions: 'markNodeLost' },
          DEADLINE_EXCEEDED: {
            target: 'Failed',
            guard: { type: 'deadlinePassed', params: { phase: 'Starting' } },
            actions: { type: 'failOnDeadline', params: { phase: 'Starting' } },
          },
        },
      },
      Running: {
        entry: ['enterPhase', 'clearStopReason'],
        on: {
          DELETE_REQUESTED: deleteRequested,
          // Idle, NodeTerminating…: the node stopped it and says why; that is a clean stop.
          CONTAINER_STOPPED: { target: 'Stopped', actions: ['takeObservedStopReason', 'resetCrashes'] },
          CONTAINER_CRASHED: [
            {
              target: 'Failed',
              guard: { type: 'crashLoopExhausted', params: { wasRunning: true } },
              actions: [{ type: 'recordCrash', params: { wasRunning: true } }, 'failOnCrashLoop'],
            },
            {
              target: 'Scheduled',
              actions: [{ type: 'recordCrash', params: { wasRunning: true } }, 'scheduleRetry'],
            },
          ],
          STOP_REQUESTED: { target: 'Stopping', actions: 'requestStop' },
          NODE_LOST: { target: 'Pending', actions: 'markNodeLost' },
        },
      },
      Stopping: {
        entry: ['enterPhase', 'stopContainer'],
        on: {
          DELETE_REQUESTED: deleteRequested,
          CONTAINER_STOPPED: { target: 'Stopped', actions: ['rememberStopReason', 'resetCrashes'] },
          // It exited while we were stopping it: stopped all the same.
          CONTAINER_CRASHED: { target: 'Stopped', actions: ['rememberStopReason', 'resetCrashes'] },
          // The node is fenced (terminated): the container went with it.
          NODE_LOST: { target: 'Stopped', actions: ['rememberStopReason', 'releaseNode'] },
          DEADLINE_EXCEEDED: {
            target: 'Failed',
            guard: { type: 'deadlinePassed', params: { phase: 'Stopping' } },
            actions: { type: 'failOnDeadline', params: { phase: 'Stopping' } },
          },
        },
      },
      Stopped: {
        entry: 'enterPhase',
        on: {
          DELETE_REQUESTED: deleteRequested,
          RUN_REQUESTED: { target: 'Pending', actions: ['resetCrashes', 'clearStopReason'] },
          // Its volume was on that node and is gone with it; placement must not prefer it.
          NODE_LOST: { actions: 'releaseNode' },
        },
      },
      Deleting: {
        entry: ['enterPhase', 'removeContainer'],
        on: {
          REMOVED: 'Deleted',
          // A fenced node is terminated with its disk: nothing is left to remove.
          NODE_LOST: 'Deleted',
          DEADLINE_EXCEEDED: {
            target: 'Failed',
            guard: { type: 'deadlinePassed', params: { phase: 'Deleting' } },
            actions: { type: 'failOnDeadline', params: { phase: 'Deleting' } },
          },
        },
      },
      Failed: {
        entry: ['enterPhase', 'reportFailure'],
        // Whatever comes next, the failure is over; a new one is recorded on the way back in.
        exit: 'clearFailure',
        on: {
          // Asking again after a failed delete retries it.
          DELETE_REQUESTED: deleteRequested,
          RETRY: [
            { target: 'Deleting', guard: 'deletionRequested' },
            { target: 'Pending', actions: ['resetCrashes', 'clearStopReason'] },
          ],
          // The container became ready after all (observed state wins), unless it is being deleted.
          CONTAINER_STARTED: { target: 'Running', guard: 'deletionNotRequested', actions: 'resetCrashes' },
          // "Force stop": make sure no container is left behind before calling it Stopped.
          STOP_REQUESTED: [
            { target: 'Stopping', guard: and(['deletionNotRequested', 'hasNode']), actions: 'requestStop' },
            { target: 'Stopped', guard: 'deletionNotRequested', actions: 'requestStop' },
          ],
          REMOVED: { target: 'Deleted', guard: 'deletionRequested' },
          NODE_LOST: [{ target: 'Deleted', guard: 'deletionRequested' }, { actions: 'releaseNode' }],
        },
      },
      Deleted: { type: 'final', entry: 'enterPhase' },
    },
  });
}

export type CodespaceMachine = ReturnType<typeof createCodespaceMachine>;

/** The machine with the default bounds. */
export const codespaceMachine: CodespaceMachine = createCodespaceMachine();
