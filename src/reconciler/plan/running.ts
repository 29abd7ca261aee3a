import type { Draft } from 'immer';
import type { CodespaceStatus } from '../../model/codespace.js';
import type { ObservedContainer } from '../../model/node.js';
import { codespaceUrlFor } from '../codespace-url.js';
import { removeCondition, seconds, setCondition } from '../conditions.js';
import { checkStartingDeadline, fail, progressing } from './deadlines.js';
import { handleExited } from './exited.js';
import { healthOf, lastBeatOf, liveObserved, requeueAfter, type Pass } from './pass.js';
import { placeCodespace } from './placement-step.js';
import type { ObservedOnNode } from './types.js';

// Running wanted.

export function planRunning(pass: Pass): void {
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
