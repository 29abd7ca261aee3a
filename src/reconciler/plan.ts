import { produce, type Draft } from 'immer';
import type { Codespace, CodespaceStatus } from '../model/codespace.js';
import type { ObservedContainer } from '../model/node.js';
import { place } from '../placement/place.js';
import type { NodeView } from '../placement/node-view.js';
import { restartBackoffMs, type ReconcilerConfig } from './config.js';
import { codespaceUrlFor } from './codespace-url.js';
import { findCondition, isoAt, removeCondition, seconds, setCondition } from './conditions.js';
import type { JudgedNode, NodeHealth } from './node-health.js';

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
  /** Placement's snapshot, counting every assignment including our own since the last beats. */
  readonly nodeViews: readonly NodeView[];
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

/** Phases in which something is under way and a deadline applies. */
type TransitionalPhase = 'Scheduled' | 'Starting' | 'Stopping' | 'Deleting';

const deadlineKeyByPhase: Record<TransitionalPhase, keyof ReconcilerConfig> = {
  Scheduled: 'scheduledDeadlineMs',
  Starting: 'startingDeadlineMs',
  Stopping: 'stoppingDeadlineMs',
  Deleting: 'deletingDeadlineMs',
};

export function phaseDeadlineMs(phase: TransitionalPhase, config: ReconcilerConfig): number {
  return config[deadlineKeyByPhase[phase]] as number;
}

/** Mutable state of one planning pass. */
interface Pass {
  readonly input: PlanInput;
  readonly draft: Draft<CodespaceStatus>;
  readonly actions: Action[];
  readonly nowIso: string;
  requeueAfterMs: number | undefined;
}

export function planCodespace(input: PlanInput): Plan {
  const actions: Action[] = [];
  let requeueAfterMs: number | undefined;
  const status = produce(input.codespace.status, (draft) => {
    const pass: Pass = { input, draft, actions, nowIso: isoAt(input.nowMs), requeueAfterMs: undefined };
    const nodeLost = forgetFencedNodes(pass);
    if (input.codespace.metadata.deletionTimestamp !== undefined) planDeletion(pass);
    else if (input.codespace.spec.running) planRunning(pass);
    else planStopped(pass, nodeLost);
    draft.observedGeneration = input.codespace.metadata.generation;
    requeueAfterMs = pass.requeueAfterMs;
  });
  return requeueAfterMs === undefined ? { actions, status } : { actions, status, requeueAfterMs };
}

function healthOf(pass: Pass, nodeName: string): NodeHealth {
  // A node nobody has told us about is not evidence of anything: treat it as silent, not gone.
  return pass.input.nodes.get(nodeName)?.health ?? 'NotReady';
}

function requeueAfter(pass: Pass, ms: number): void {
  const bounded = Math.max(0, ms);
  pass.requeueAfterMs = pass.requeueAfterMs === undefined ? bounded : Math.min(pass.requeueAfterMs, bounded);
}

/** Containers on nodes that are not fenced: the only ones that can still be running. */
function liveObserved(pass: Pass): ObservedOnNode[] {
  return pass.input.observed
    .filter((o) => healthOf(pass, o.nodeName) !== 'Fenced')
    .slice()
    .sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
}

function lastBeatOf(pass: Pass, nodeName: string): string {
  return pass.input.nodes.get(nodeName)?.record?.lastHeartbeatTime ?? 'an unknown time';
}

/**
 * A fenced node is confirmed gone: whatever it held is gone with it. Returns whether the
 * codespace was assigned there (it then moves, with a status that says why).
 */
function forgetFencedNodes(pass: Pass): boolean {
  const { draft } = pass;
  if (draft.volumeNodeName !== undefined && healthOf(pass, draft.volumeNodeName) === 'Fenced') {
    delete draft.volumeNodeName;
  }
  const lost = draft.nodeName;
  if (lost === undefined || healthOf(pass, lost) !== 'Fenced') return false;
  delete draft.nodeName;
  delete draft.url;
  delete draft.restartCount;
  draft.stopReason = 'NodeLost';
  if (draft.phase !== 'Failed') draft.phase = 'Pending';
  const message =
    `node ${lost} stopped sending heartbeats (last at ${lastBeatOf(pass, lost)}) and was terminated; ` +
    'the codespace is being moved to another node';
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'False', reason: 'NodeLost', message },
    pass.nowIso,
  );
  setCondition(
    draft.conditions,
    { type: 'Scheduled', status: 'False', reason: 'NodeLost', message },
    pass.nowIso,
  );
  removeCondition(draft.conditions, 'Progressing');
  return true;
}

/**
 * Marks the codespace as under way in `phase` and checks the phase's deadline. Returns true when
 * the deadline has passed (the caller then fails the codespace with a reason); otherwise asks to
 * be looked at again when it would pass.
 */
function progressing(pass: Pass, phase: TransitionalPhase, message: string): boolean {
  const { draft } = pass;
  draft.phase = phase;
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'True', reason: phase, message },
    pass.nowIso,
  );
  const since = Math.max(
    Date.parse(findCondition(draft.conditions, 'Progressing')?.lastTransitionTime ?? pass.nowIso),
    pass.input.visibleSinceMs ?? Number.NEGATIVE_INFINITY,
  );
  const deadlineMs = phaseDeadlineMs(phase, pass.input.config);
  const remainingMs = since + deadlineMs - pass.input.nowMs;
  if (remainingMs < 0) return true;
  requeueAfter(pass, remainingMs + 1);
  return false;
}

/** When the current `phase` began (its Progressing condition), or now when it begins with this pass. */
function progressSinceMs(pass: Pass, phase: TransitionalPhase): number {
  const progress = findCondition(pass.draft.conditions, 'Progressing');
  // Failed by this phase's deadline, the work goes on: the failure time is after it began.
  const going =
    progress?.reason === phase ||
    (progress?.reason === 'ProgressDeadlineExceeded' && pass.draft.phase === 'Failed');
  return going && progress !== undefined ? Date.parse(progress.lastTransitionTime) : pass.input.nowMs;
}

/**
 * Whether `nodeName` has reported, since `sinceMs`, that it holds nothing of this codespace
 * (neither a running copy nor, with `volumeToo`, any container or the volume). Until it has, a
 * command we sent may be in flight or not yet visible in its reports: absence in an older
 * report is no evidence.
 */
function confirmedGoneFrom(
  pass: Pass,
  nodeName: string,
  sinceMs: number,
  options: { volumeToo: boolean },
): boolean {
  const record = pass.input.nodes.get(nodeName)?.record;
  if (record === undefined || record.lastHeartbeatReceivedMs <= sinceMs) return false;
  const uid = pass.input.codespace.metadata.uid;
  if (options.volumeToo)
    return !record.volumes.includes(uid) && !record.containers.some((c) => c.uid === uid);
  return !record.containers.some((c) => c.uid === uid && c.state !== 'exited');
}

/** A deadline passed: Failed, with what happened and what the user can do. */
function fail(pass: Pass, reason: string, message: string): void {
  const { draft } = pass;
  draft.phase = 'Failed';
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message },
    pass.nowIso,
  );
  setCondition(draft.conditions, { type: 'Ready', status: 'False', reason, message }, pass.nowIso);
  pass.actions.push({ kind: 'markFailed', reason: message });
}

/** Failed by a deadline earlier: stays Failed (no new timer) while the same work goes on. */
function failedByDeadline(pass: Pass): boolean {
  return (
    pass.draft.phase === 'Failed' &&
    findCondition(pass.draft.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded'
  );
}

function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort();
}

// ---------------------------------------------------------------------------------------------
// Deletion: remove the container and volume everywhere they may be, then finalize.

function planDeletion(pass: Pass): void {
  const { input, draft } = pass;
  const uid = input.codespace.metadata.uid;
  const holders = new Set<string>(liveObserved(pass).map((o) => o.nodeName));
  for (const node of input.nodes.values()) {
    if (node.health !== 'Fenced' && node.record?.volumes.includes(uid) === true) holders.add(node.name);
  }
  // The nodes we placed it on hold it until they say otherwise in a report made after we began.
  const sinceMs = progressSinceMs(pass, 'Deleting');
  for (const nodeName of [draft.nodeName, draft.volumeNodeName]) {
    if (nodeName === undefined || healthOf(pass, nodeName) === 'Fenced') continue;
    if (!confirmedGoneFrom(pass, nodeName, sinceMs, { volumeToo: true })) holders.add(nodeName);
  }
  if (holders.size === 0) {
    pass.actions.push({ kind: 'finalize' });
    return;
  }
  requeueAfter(pass, input.config.reportRecheckMs);
  const unreachable: string[] = [];
  for (const nodeName of sortedNames(holders)) {
    if (healthOf(pass, nodeName) === 'Ready') pass.actions.push({ kind: 'remove', nodeName });
    else unreachable.push(nodeName);
  }
  delete draft.url;
  const where = sortedNames(holders).join(', ');
  const waiting =
    unreachable.length > 0
      ? `node ${unreachable.join(', ')} is not responding; removal goes on once it answers or is fenced`
      : 'removal is being retried';
  if (failedByDeadline(pass)) return;
  if (progressing(pass, 'Deleting', `removing the container and volume from node ${where}`)) {
    fail(
      pass,
      'DeleteTimedOut',
      `could not remove the codespace from node ${where} within ${seconds(input.config.deletingDeadlineMs)} s; ${waiting}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Stopped wanted: stop whatever runs, then record where the volume stays.

function planStopped(pass: Pass, nodeLost: boolean): void {
  const { input, draft } = pass;
  const live = liveObserved(pass);
  const stopping = new Set(live.filter((o) => o.container.state !== 'exited').map((o) => o.nodeName));
  // The assigned node may be starting it on our earlier command although no report shows it
  // yet: it keeps its slot and is told to stop until a report made after we began says it has.
  const assigned = draft.nodeName;
  if (
    assigned !== undefined &&
    !confirmedGoneFrom(pass, assigned, progressSinceMs(pass, 'Stopping'), { volumeToo: false })
  ) {
    stopping.add(assigned);
  }
  if (stopping.size > 0) {
    const unreachable: string[] = [];
    for (const nodeName of sortedNames(stopping)) {
      if (healthOf(pass, nodeName) === 'Ready') {
        pass.actions.push({ kind: 'stop', nodeName, reason: 'User' });
      } else {
        unreachable.push(nodeName);
      }
    }
    requeueAfter(pass, input.config.reportRecheckMs);
    if (failedByDeadline(pass)) return;
    const where = sortedNames(stopping).join(', ');
    if (progressing(pass, 'Stopping', `stopping the container on node ${where}`)) {
      const why =
        unreachable.length > 0
          ? `node ${unreachable.join(', ')} is not responding`
          : 'the node keeps failing to stop it';
      fail(
        pass,
        'StopTimedOut',
        `did not stop within ${seconds(input.config.stoppingDeadlineMs)} s on node ${where} (${why}); ` +
          'retry stop, or delete the codespace',
      );
    }
    return;
  }

  // Everything is stopped. The volume stays where the container was.
  const onAssigned = live.find((o) => o.nodeName === draft.nodeName);
  const keeper = onAssigned ?? live.find((o) => o.nodeName === draft.volumeNodeName) ?? live[0];
  if (keeper !== undefined) draft.volumeNodeName = keeper.nodeName;
  removeDuplicates(pass, live, draft.volumeNodeName);

  if (draft.phase !== 'Stopped') {
    // An idle stop recorded earlier stays the reason even if a late copy had to be stopped too
    // (a start resent on a lagging report can race the node's idle stop).
    draft.stopReason = nodeLost ? 'NodeLost' : draft.stopReason === 'Idle' ? 'Idle' : 'User';
  }
  draft.phase = 'Stopped';
  delete draft.nodeName;
  delete draft.url;
  delete draft.restartCount;
  removeCondition(draft.conditions, 'Progressing');
  removeCondition(draft.conditions, 'Scheduled');
  const message = stoppedMessage(draft.stopReason, draft.volumeNodeName);
  setCondition(draft.conditions, { type: 'Ready', status: 'False', reason: 'Stopped', message }, pass.nowIso);
}

function stoppedMessage(reason: CodespaceStatus['stopReason'], volumeNodeName: string | undefined): string {
  const files = volumeNodeName === undefined ? '' : `; its files are kept on node ${volumeNodeName}`;
  switch (reason) {
    case 'Idle':
      return `stopped after its idle timeout${files}; start it to continue`;
    case 'NodeLost':
      return `stopped: its node was lost${files}`;
    default:
      return `stopped${files}`;
  }
}

/**
 * Containers of this codespace on nodes other than the one that should hold it: stop one on the
 * volume's node (its files live there), remove the rest. Only reachable nodes are asked.
 */
function removeDuplicates(
  pass: Pass,
  live: readonly ObservedOnNode[],
  keepNodeName: string | undefined,
): void {
  for (const o of live) {
    if (o.nodeName === keepNodeName || healthOf(pass, o.nodeName) !== 'Ready') continue;
    pass.actions.push({ kind: 'remove', nodeName: o.nodeName });
  }
}

// ---------------------------------------------------------------------------------------------
// Running wanted.

function planRunning(pass: Pass): void {
  const { input, draft } = pass;
  const generation = input.codespace.metadata.generation;
  const live = liveObserved(pass);

  // Failed at this generation is final for a running codespace: crash loops and stuck starts
  // wait for the user (start bumps the generation, force stop sets running false).
  if (draft.phase === 'Failed' && input.codespace.status.observedGeneration === generation) {
    for (const o of live) {
      if (
        o.container.state !== 'exited' &&
        o.container.state !== 'stopping' &&
        healthOf(pass, o.nodeName) === 'Ready'
      ) {
        pass.actions.push({ kind: 'stop', nodeName: o.nodeName, reason: 'User' });
      }
    }
    return;
  }

  // Wanted running again: an earlier idle stop no longer explains anything.
  if (draft.stopReason === 'Idle') delete draft.stopReason;
  if (draft.phase === 'Failed') {
    // A new generation after a failure is the user's retry: start counting afresh.
    delete draft.restartCount;
    delete draft.stopReason;
  }
  if (draft.nodeName === undefined) adoptRunningContainer(pass, live);
  if (draft.nodeName === undefined) {
    placeCodespace(pass);
    return;
  }
  const nodeName = draft.nodeName;
  const health = healthOf(pass, nodeName);
  if (health !== 'Ready') {
    // Silent but not fenced: it may still be serving. Never move on absence of evidence. A
    // start under way is not timed meanwhile: its deadline runs afresh once the node answers.
    if (draft.phase === 'Scheduled' || draft.phase === 'Starting') {
      setCondition(
        draft.conditions,
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NodeNotReady',
          message: `waiting for node ${nodeName} to answer`,
        },
        pass.nowIso,
      );
    }
    setCondition(
      draft.conditions,
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeNotReady',
        message:
          `node ${nodeName} has sent no heartbeat since ${lastBeatOf(pass, nodeName)}; ` +
          'the codespace moves only once the node is confirmed terminated',
      },
      pass.nowIso,
    );
    return;
  }

  const here = live.find((o) => o.nodeName === nodeName);
  dropOtherCopies(pass, live, nodeName);

  const url = input.nodes.get(nodeName)?.record?.proxyUrl;
  if (url !== undefined) draft.url = codespaceUrlFor(url, input.codespace.metadata.name);

  if (here === undefined) {
    startOn(pass, nodeName);
    return;
  }
  draft.volumeNodeName = nodeName;
  const container = here.container;
  if (container.lastActivityAt !== undefined) recordActivity(draft, container.lastActivityAt);

  if (container.state === 'exited') {
    handleExited(pass, here);
    return;
  }
  if (container.state === 'running' && container.ready !== false) {
    markRunning(pass, container);
    if (container.generation < generation) pass.actions.push({ kind: 'ensureRunning', nodeName });
    return;
  }
  // creating, running-not-ready, stopping or removing: on its way; the deadline watches it.
  if (container.generation < generation) pass.actions.push({ kind: 'ensureRunning', nodeName });
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'False', reason: 'ContainerStarting', message: `starting on node ${nodeName}` },
    pass.nowIso,
  );
  checkStartingDeadline(pass, nodeName, `waiting for the container on node ${nodeName} to become ready`);
}

/**
 * Copies on other nodes: one on the volume's node is stopped (its files live there until the new
 * copy runs); any other is removed. Only reachable nodes are asked.
 */
function dropOtherCopies(pass: Pass, live: readonly ObservedOnNode[], nodeName: string): void {
  for (const o of live) {
    if (o.nodeName === nodeName || healthOf(pass, o.nodeName) !== 'Ready') continue;
    if (o.nodeName !== pass.draft.volumeNodeName) {
      pass.actions.push({ kind: 'remove', nodeName: o.nodeName });
    } else if (o.container.state !== 'exited' && o.container.state !== 'stopping') {
      pass.actions.push({ kind: 'stop', nodeName: o.nodeName, reason: 'User' });
    }
  }
}

function checkStartingDeadline(pass: Pass, nodeName: string, message: string): void {
  if (progressing(pass, 'Starting', message)) {
    pass.actions.push({ kind: 'stop', nodeName, reason: 'User' });
    pass.draft.stopReason = 'Failed';
    fail(
      pass,
      'StartTimedOut',
      `did not become ready within ${seconds(pass.input.config.startingDeadlineMs)} s on node ${nodeName}; ` +
        'retry with start or force stop',
    );
  }
}

/** A codespace with no node whose container runs somewhere reachable keeps running there. */
function adoptRunningContainer(pass: Pass, live: readonly ObservedOnNode[]): void {
  const candidate = live.find(
    (o) => o.container.state !== 'exited' && healthOf(pass, o.nodeName) === 'Ready',
  );
  if (candidate === undefined) return;
  pass.draft.nodeName = candidate.nodeName;
  setCondition(
    pass.draft.conditions,
    {
      type: 'Scheduled',
      status: 'True',
      reason: 'Adopted',
      message: `found running on node ${candidate.nodeName}`,
    },
    pass.nowIso,
  );
}

function placeCodespace(pass: Pass): void {
  const { input, draft } = pass;
  // Placement filters on the node's own readiness; our judgement of silence is added here.
  const views = input.nodeViews.map((view) =>
    healthOf(pass, view.name) === 'Ready' ? view : { ...view, ready: false },
  );
  const result = place(
    {
      uid: input.codespace.metadata.uid,
      resources: input.codespace.spec.resources,
      volumeNodeName: draft.volumeNodeName,
    },
    views,
    { strategy: input.config.placementStrategy, maxContainersPerNode: input.config.maxContainersPerNode },
  );
  if (result.kind === 'unschedulable') {
    draft.phase = 'Pending';
    delete draft.url;
    removeCondition(draft.conditions, 'Progressing');
    setCondition(
      draft.conditions,
      { type: 'Scheduled', status: 'False', reason: result.reason, message: result.message },
      pass.nowIso,
    );
    requeueAfter(pass, input.config.unschedulableRetryMs);
    return;
  }
  const nodeName = result.nodeName;
  pass.actions.push({ kind: 'place', nodeName });
  draft.nodeName = nodeName;
  const proxyUrl = input.nodes.get(nodeName)?.record?.proxyUrl;
  if (proxyUrl !== undefined) draft.url = codespaceUrlFor(proxyUrl, input.codespace.metadata.name);
  delete draft.restartCount;
  setCondition(
    draft.conditions,
    { type: 'Scheduled', status: 'True', reason: 'Placed', message: `placed on node ${nodeName}` },
    pass.nowIso,
  );
  // Why it moved (NodeLost, NodeTerminating) stays readable until it runs again.
  const readyReason = findCondition(draft.conditions, 'Ready')?.reason;
  if (readyReason !== 'NodeLost' && readyReason !== 'NodeTerminating') {
    setCondition(
      draft.conditions,
      {
        type: 'Ready',
        status: 'False',
        reason: 'Scheduled',
        message: `waiting for node ${nodeName} to start it`,
      },
      pass.nowIso,
    );
  }
  progressing(pass, 'Scheduled', `placed on node ${nodeName}; asking it to start the container`);
  // The placement is recorded first; the next pass sends the command.
  requeueAfter(pass, 0);
}

/** Assigned to a reachable node that reports no container: ask it to start one. */
function startOn(pass: Pass, nodeName: string): void {
  const { draft } = pass;
  const wasUp = draft.phase === 'Running' || draft.phase === 'Starting';
  if (wasUp) {
    setCondition(
      draft.conditions,
      {
        type: 'Ready',
        status: 'False',
        reason: 'ContainerMissing',
        message: `the container on node ${nodeName} disappeared; starting it again`,
      },
      pass.nowIso,
    );
  }
  if (progressing(pass, 'Scheduled', `asking node ${nodeName} to start the container`)) {
    fail(
      pass,
      'StartTimedOut',
      `node ${nodeName} did not start the container within ${seconds(pass.input.config.scheduledDeadlineMs)} s; ` +
        'retry with start or force stop',
    );
    draft.stopReason = 'Failed';
    return;
  }
  pass.actions.push({ kind: 'ensureRunning', nodeName });
}

function markRunning(pass: Pass, container: ObservedContainer): void {
  const { input, draft } = pass;
  const nodeName = draft.nodeName as string;
  draft.phase = 'Running';
  delete draft.stopReason;
  removeCondition(draft.conditions, 'Progressing');
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'True', reason: 'Running', message: `running on node ${nodeName}` },
    pass.nowIso,
  );
  if (draft.restartCount !== undefined && draft.restartCount > 0) {
    const startedMs = container.startedAt === undefined ? Number.NaN : Date.parse(container.startedAt);
    const stableForMs = input.nowMs - startedMs;
    if (stableForMs >= input.config.restartCountResetAfterMs) delete draft.restartCount;
    else if (Number.isFinite(stableForMs))
      requeueAfter(pass, input.config.restartCountResetAfterMs - stableForMs);
  }
}

function recordActivity(draft: Draft<CodespaceStatus>, lastActivityAt: string): void {
  const reported = Date.parse(lastActivityAt);
  if (Number.isNaN(reported)) return;
  const current =
    draft.lastActivityTime === undefined ? Number.NEGATIVE_INFINITY : Date.parse(draft.lastActivityTime);
  if (reported > current) draft.lastActivityTime = new Date(reported).toISOString();
}

/** Stop reasons that mean someone stopped the container on purpose, not that it crashed. */
function stoppedOnPurpose(container: ObservedContainer): boolean {
  return (
    container.stopReason !== undefined &&
    container.stopReason !== 'Crashed' &&
    container.stopReason !== 'Failed'
  );
}

function handleExited(pass: Pass, here: ObservedOnNode): void {
  const { input, draft } = pass;
  const nodeName = here.nodeName;
  const container = here.container;
  const generation = input.codespace.metadata.generation;

  // The node's idle monitor stopped it at (or after) the current spec: record running=false so
  // that nothing restarts it. A later start bumps the generation past the container's.
  if (container.stopReason === 'Idle' && container.generation >= generation) {
    pass.actions.push({ kind: 'setRunningFalse', reason: 'Idle' });
    draft.phase = 'Stopped';
    draft.stopReason = 'Idle';
    draft.volumeNodeName = nodeName;
    delete draft.nodeName;
    delete draft.url;
    delete draft.restartCount;
    removeCondition(draft.conditions, 'Progressing');
    removeCondition(draft.conditions, 'Scheduled');
    setCondition(
      draft.conditions,
      { type: 'Ready', status: 'False', reason: 'Stopped', message: stoppedMessage('Idle', nodeName) },
      pass.nowIso,
    );
    return;
  }

  // The node is going away and stopped its containers: move to another node. (A node that is
  // no longer draining keeps it: it is started again below.)
  if (container.stopReason === 'NodeTerminating' && input.nodes.get(nodeName)?.record?.draining === true) {
    delete draft.nodeName;
    delete draft.url;
    draft.phase = 'Pending';
    draft.stopReason = 'NodeTerminating';
    removeCondition(draft.conditions, 'Progressing');
    const message = `node ${nodeName} is being terminated; moving the codespace to another node`;
    setCondition(
      draft.conditions,
      { type: 'Scheduled', status: 'False', reason: 'NodeTerminating', message },
      pass.nowIso,
    );
    setCondition(
      draft.conditions,
      { type: 'Ready', status: 'False', reason: 'NodeTerminating', message },
      pass.nowIso,
    );
    requeueAfter(pass, 0);
    return;
  }

  const progress = findCondition(draft.conditions, 'Progressing');
  const progressSinceMs = progress === undefined ? Number.NaN : Date.parse(progress.lastTransitionTime);
  if (progress?.reason === 'CrashBackOff') {
    const dueMs = progressSinceMs + restartBackoffMs(draft.restartCount ?? 1, input.config);
    if (input.nowMs < dueMs) {
      requeueAfter(pass, dueMs - input.nowMs);
      return;
    }
    pass.actions.push({ kind: 'ensureRunning', nodeName });
    checkStartingDeadline(
      pass,
      nodeName,
      `restarting the container on node ${nodeName} (crash ${draft.restartCount ?? 1} of ${input.config.restartLimit})`,
    );
    return;
  }

  // Is this exit news? Only if the container should have been up when the report was made:
  // always once Running; while Scheduled or Starting, only for reports newer than our start
  // command (an older report still shows the container before it was started).
  const expectedUpSinceMs =
    draft.phase === 'Running'
      ? Number.NEGATIVE_INFINITY
      : (draft.phase === 'Scheduled' || draft.phase === 'Starting') &&
          (progress?.reason === 'Scheduled' || progress?.reason === 'Starting')
        ? progressSinceMs
        : Number.POSITIVE_INFINITY;
  const crashed = !stoppedOnPurpose(container) && here.observedAtMs > expectedUpSinceMs;
  if (!crashed) {
    pass.actions.push({ kind: 'ensureRunning', nodeName });
    checkStartingDeadline(pass, nodeName, `starting the container on node ${nodeName}`);
    return;
  }

  const crashes = (draft.restartCount ?? 0) + 1;
  draft.restartCount = crashes;
  draft.stopReason = 'Crashed';
  const exit = container.exitCode === undefined ? '' : ` (last exit code ${container.exitCode})`;
  if (crashes >= input.config.restartLimit) {
    fail(
      pass,
      'CrashLoop',
      `crashed ${crashes} times in a row on node ${nodeName}${exit}; check the image and its logs, ` +
        'then retry with start or force stop',
    );
    return;
  }
  const backoffMs = restartBackoffMs(crashes, input.config);
  draft.phase = 'Starting';
  const message =
    `exited${exit} on node ${nodeName}; restarting in ${seconds(backoffMs)} s ` +
    `(crash ${crashes} of at most ${input.config.restartLimit})`;
  setCondition(
    draft.conditions,
    { type: 'Ready', status: 'False', reason: 'CrashBackOff', message },
    pass.nowIso,
  );
  setCondition(
    draft.conditions,
    { type: 'Progressing', status: 'True', reason: 'CrashBackOff', message },
    pass.nowIso,
  );
  requeueAfter(pass, backoffMs);
}
