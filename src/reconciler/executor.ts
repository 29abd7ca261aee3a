import type { Codespace } from '../model/codespace.js';
import { faultPoint } from '../fault-points/fault-point.js';
import { CodeyardError } from '../model/errors.js';
import type { Store } from '../store/store.js';
import type { AgentClient, AgentTarget } from './agent-client.js';
import type { JudgedNode } from './node-health.js';
import type { Action, Plan } from './plan.js';

export interface ExecutorContext {
  readonly store: Store;
  readonly agents: AgentClient;
  /**
   * The epoch to act under, or undefined when this replica must not act (not leading, or past its
   * own renew deadline). Asked again before every command, so a pass that outlives its
   * leadership stops half-way rather than act for a deposed leader.
   */
  readonly leaderEpoch: () => number | undefined;
  /** A node refused a command as coming from an older epoch: a newer leader exists, or the counter was lost. */
  readonly onStaleEpoch?: (nodeName: string) => void;
}

export type ExecuteOutcome =
  | { readonly kind: 'written'; readonly codespace: Codespace }
  | { readonly kind: 'unchanged'; readonly codespace: Codespace }
  | { readonly kind: 'finalized' };

/** Several commands of one pass failed; each was still attempted. */
export class CommandsFailedError extends Error {
  constructor(readonly failures: readonly { readonly action: Action; readonly error: unknown }[]) {
    super(
      failures
        .map(
          ({ action, error }) => `${action.kind}: ${error instanceof Error ? error.message : String(error)}`,
        )
        .join('; '),
    );
    this.name = 'CommandsFailedError';
  }
}

export function notLeader(): CodeyardError {
  return new CodeyardError('NOT_LEADER', 'this replica is not the leader (or is past its renew deadline)');
}

/**
 * Carries out a plan: first the store write (status, and for an idle stop the spec), with
 * compare-and-set on the resourceVersion that was planned from and the leader-epoch fence; then
 * the agent commands. A refused write (CONFLICT, STALE_EPOCH) throws before any command is sent,
 * so the nodes never act on a decision the store did not accept.
 */
export async function executePlan(
  codespace: Codespace,
  plan: Plan,
  nodes: ReadonlyMap<string, JudgedNode>,
  context: ExecutorContext,
): Promise<ExecuteOutcome> {
  const outcome = await commitPlan(codespace, plan, context);
  if (outcome.kind !== 'finalized') await sendCommands(outcome.codespace, plan, nodes, context);
  return outcome;
}

/** What a plan asks of the store, decided without I/O (so the controller can reserve it first). */
export type PlannedWrite =
  | { readonly kind: 'finalize' }
  | { readonly kind: 'unchanged' }
  /** `next` keeps the planned-from resourceVersion: the store's compare-and-set checks it. */
  | { readonly kind: 'update'; readonly next: Codespace };

/** The codespace the plan wants stored (status, and for an idle stop the spec), or that nothing changes. */
export function plannedWrite(codespace: Codespace, plan: Plan): PlannedWrite {
  if (plan.actions.some((a) => a.kind === 'finalize')) return { kind: 'finalize' };
  const idleStop = plan.actions.some((a) => a.kind === 'setRunningFalse');
  // The planner returns the very status object it was given when nothing changed.
  if (!idleStop) {
    return plan.status === codespace.status
      ? { kind: 'unchanged' }
      : { kind: 'update', next: { ...codespace, status: plan.status } };
  }
  // A spec change: a new generation, which the status has observed. (Copies of the read-only
  // parts, never edits: the cached object is shared.)
  const generation = codespace.metadata.generation + 1;
  return {
    kind: 'update',
    next: {
      ...codespace,
      metadata: { ...codespace.metadata, generation },
      spec: { ...codespace.spec, running: false },
      status: { ...plan.status, observedGeneration: generation },
    },
  };
}

/** The store half of a plan: one compare-and-set write fenced by the leader epoch (or the finalize). */
export async function commitPlan(
  codespace: Codespace,
  plan: Plan,
  context: ExecutorContext,
): Promise<ExecuteOutcome> {
  return commitPlannedWrite(codespace, plannedWrite(codespace, plan), context);
}

/** Carries out a `plannedWrite` of `codespace` (the copy it was planned from). */
export async function commitPlannedWrite(
  codespace: Codespace,
  write: PlannedWrite,
  context: ExecutorContext,
): Promise<ExecuteOutcome> {
  const epoch = context.leaderEpoch();
  if (epoch === undefined) throw notLeader();
  const fence = { leaderEpoch: epoch };
  const expectedResourceVersion = codespace.metadata.resourceVersion;
  switch (write.kind) {
    case 'finalize':
      await context.store.finalizeCodespaceDeletion(codespace.metadata.name, {
        expectedResourceVersion,
        fence,
      });
      return { kind: 'finalized' };
    case 'unchanged':
      return { kind: 'unchanged', codespace };
    case 'update': {
      faultPoint('before-store-write');
      const written = await context.store.updateCodespace(write.next, { expectedResourceVersion, fence });
      // A placement: the codespace is bound to a node in the store, no command has gone out yet.
      if (written.status.nodeName !== undefined && written.status.nodeName !== codespace.status.nodeName) {
        faultPoint('after-placement-write');
      }
      return { kind: 'written', codespace: written };
    }
  }
}

/**
 * The node half: every command of the plan, each attempted even if another fails, each only
 * while this replica still leads at the same epoch.
 */
export async function sendCommands(
  current: Codespace,
  plan: Plan,
  nodes: ReadonlyMap<string, JudgedNode>,
  context: ExecutorContext,
): Promise<void> {
  const epoch = context.leaderEpoch();
  if (epoch === undefined) throw notLeader();
  const failures: { action: Action; error: unknown }[] = [];
  for (const action of plan.actions) {
    if (action.kind !== 'ensureRunning' && action.kind !== 'stop' && action.kind !== 'remove') continue;
    if (context.leaderEpoch() !== epoch) throw notLeader();
    const agentUrl = nodes.get(action.nodeName)?.record?.agentUrl;
    if (agentUrl === undefined) {
      failures.push({ action, error: new Error(`node ${action.nodeName} has no known agent URL`) });
      continue;
    }
    const target: AgentTarget = { nodeName: action.nodeName, agentUrl, epoch };
    try {
      faultPoint('before-agent-call');
      await sendCommand(context.agents, target, action, current);
    } catch (error) {
      if (error instanceof CodeyardError && error.code === 'STALE_EPOCH')
        context.onStaleEpoch?.(action.nodeName);
      failures.push({ action, error });
    }
  }
  if (failures.length > 0) throw new CommandsFailedError(failures);
}

function sendCommand(
  agents: AgentClient,
  target: AgentTarget,
  action: Extract<Action, { kind: 'ensureRunning' | 'stop' | 'remove' }>,
  codespace: Codespace,
): Promise<void> {
  const uid = codespace.metadata.uid;
  const generation = codespace.metadata.generation;
  switch (action.kind) {
    case 'ensureRunning':
      return agents.ensureRunning(target, uid, {
        name: codespace.metadata.name,
        owner: codespace.metadata.owner,
        generation,
        spec: codespace.spec,
      });
    case 'stop':
      return agents.stop(target, uid, { generation, reason: action.reason });
    case 'remove':
      return agents.remove(target, uid);
  }
}
