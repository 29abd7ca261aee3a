import { castDraft, produce } from 'immer';
import type { Codespace } from '../model/codespace.js';
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

/** The store half of a plan: one compare-and-set write fenced by the leader epoch (or the finalize). */
export async function commitPlan(
  codespace: Codespace,
  plan: Plan,
  context: ExecutorContext,
): Promise<ExecuteOutcome> {
  const epoch = context.leaderEpoch();
  if (epoch === undefined) throw notLeader();
  const fence = { leaderEpoch: epoch };
  const expectedResourceVersion = codespace.metadata.resourceVersion;

  if (plan.actions.some((a) => a.kind === 'finalize')) {
    await context.store.finalizeCodespaceDeletion(codespace.metadata.name, {
      expectedResourceVersion,
      fence,
    });
    return { kind: 'finalized' };
  }

  const idleStop = plan.actions.some((a) => a.kind === 'setRunningFalse');
  const next = produce(codespace, (draft) => {
    if (!idleStop) {
      draft.status = castDraft(plan.status);
      return;
    }
    // A spec change: a new generation, which the status has observed. (The plan's status is
    // frozen; it is copied, not edited.)
    draft.spec.running = false;
    draft.metadata.generation += 1;
    draft.status = castDraft({ ...plan.status, observedGeneration: draft.metadata.generation });
  });
  if (next === codespace) return { kind: 'unchanged', codespace };
  return {
    kind: 'written',
    codespace: await context.store.updateCodespace(next, { expectedResourceVersion, fence }),
  };
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
