import type { Draft } from 'immer';
import type { CodespaceStatus } from '../../model/codespace.js';
import type { NodeHealth } from '../node-health.js';
import type { Action, ObservedOnNode, PlanInput } from './types.js';

/** Mutable state of one planning pass. */
export interface Pass {
  readonly input: PlanInput;
  readonly draft: Draft<CodespaceStatus>;
  readonly actions: Action[];
  readonly nowIso: string;
  requeueAfterMs: number | undefined;
}

export function healthOf(pass: Pass, nodeName: string): NodeHealth {
  // A node nobody has told us about is not evidence of anything: treat it as silent, not gone.
  return pass.input.nodes.get(nodeName)?.health ?? 'NotReady';
}

export function requeueAfter(pass: Pass, ms: number): void {
  const bounded = Math.max(0, ms);
  pass.requeueAfterMs = pass.requeueAfterMs === undefined ? bounded : Math.min(pass.requeueAfterMs, bounded);
}

/** Containers on nodes that are not fenced: the only ones that can still be running. */
export function liveObserved(pass: Pass): ObservedOnNode[] {
  return pass.input.observed
    .filter((o) => healthOf(pass, o.nodeName) !== 'Fenced')
    .slice()
    .sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
}

export function lastBeatOf(pass: Pass, nodeName: string): string {
  return pass.input.nodes.get(nodeName)?.record?.lastHeartbeatTime ?? 'an unknown time';
}

/**
 * Whether `nodeName` has reported, since `sinceMs`, that it holds nothing of this codespace
 * (neither a running copy nor, with `volumeToo`, any container or the volume). Until it has, a
 * command we sent may be in flight or not yet visible in its reports: absence in an older
 * report is no evidence.
 */
export function confirmedGoneFrom(
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

export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort();
}
