/** The codespace machine's vocabulary: its states, context, events and named actions. */
import type { Phase, StopReason } from '../model/codespace.js';

/** Every phase of the model, plus `Deleted`: the machine is done and the record may go. */
export type CodespaceState = Phase | 'Deleted';

export type CodespaceFailureReason =
  | 'ScheduleDeadlineExceeded'
  | 'StartDeadlineExceeded'
  | 'StopDeadlineExceeded'
  | 'DeleteDeadlineExceeded'
  | 'CrashLoop';

export interface CodespaceFailure {
  readonly reason: CodespaceFailureReason;
  /** For the user: what happened, where, and what they can do. */
  readonly message: string;
}

export interface CodespaceMachineContext {
  /** The node the codespace is assigned to; none while Pending. */
  readonly nodeName: string | undefined;
  /** Crashes in a row; see `maxConsecutiveCrashes`. */
  readonly restartCount: number;
  /** When the current phase began (event time): transient phases' deadlines count from here. */
  readonly phaseSinceMs: number;
  /** After a crash, no restart before this time; the Scheduled deadline counts from here. */
  readonly retryNotBeforeMs: number | undefined;
  readonly stopReason: StopReason | undefined;
  readonly failure: CodespaceFailure | undefined;
  /** Once a delete is asked, the codespace only ever moves towards removal. */
  readonly deletionRequested: boolean;
  /** Exit code of the last crash, for the crash-loop message. */
  readonly lastExitCode: number | undefined;
}

/** Every event carries `atMs`, the reconciler's clock when it decided or observed it. */
export type CodespaceEvent =
  | { type: 'PLACED'; atMs: number; nodeName: string }
  | { type: 'START_REQUESTED'; atMs: number }
  | { type: 'CONTAINER_STARTED'; atMs: number }
  | { type: 'STOP_REQUESTED'; atMs: number; reason?: StopReason }
  | { type: 'CONTAINER_STOPPED'; atMs: number; reason: StopReason }
  | { type: 'CONTAINER_CRASHED'; atMs: number; exitCode?: number }
  | { type: 'RUN_REQUESTED'; atMs: number }
  | { type: 'DELETE_REQUESTED'; atMs: number }
  | { type: 'REMOVED'; atMs: number }
  | { type: 'NODE_LOST'; atMs: number }
  | { type: 'DEADLINE_EXCEEDED'; atMs: number }
  | { type: 'RETRY'; atMs: number };

export type CodespaceEventType = CodespaceEvent['type'];

export const codespaceEventTypes: readonly CodespaceEventType[] = [
  'PLACED',
  'START_REQUESTED',
  'CONTAINER_STARTED',
  'STOP_REQUESTED',
  'CONTAINER_STOPPED',
  'CONTAINER_CRASHED',
  'RUN_REQUESTED',
  'DELETE_REQUESTED',
  'REMOVED',
  'NODE_LOST',
  'DEADLINE_EXCEEDED',
  'RETRY',
];

export const codespaceStates: readonly CodespaceState[] = [
  'Pending',
  'Scheduled',
  'Starting',
  'Running',
  'Stopping',
  'Stopped',
  'Deleting',
  'Failed',
  'Deleted',
];

/** Commands and notices for the shell; each has a no-op default until provided. */
export type CodespaceActionName =
  'startContainer' | 'stopContainer' | 'removeContainer' | 'scheduleRetry' | 'reportFailure';

export const codespaceActionNames: readonly CodespaceActionName[] = [
  'startContainer',
  'stopContainer',
  'removeContainer',
  'scheduleRetry',
  'reportFailure',
];

export interface CodespaceMachineInput {
  readonly nowMs: number;
}
