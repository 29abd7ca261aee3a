import type { ObservedContainer } from '../model/node.js';
import type { KvCodespaceEntry } from './local-kv-format.js';

/** A KV entry as the protocol shows it (heartbeats, command answers). */
export function observedFrom(e: Readonly<KvCodespaceEntry & { name: string }>): ObservedContainer {
  return {
    uid: e.uid,
    name: e.name,
    owner: e.owner,
    generation: e.generation,
    epoch: e.epoch,
    state: e.state,
    ready: e.ready,
    ...(e.hostPort !== undefined ? { hostPort: e.hostPort } : {}),
    ...(e.startedAt !== undefined ? { startedAt: e.startedAt } : {}),
    ...(e.lastActivityAt !== undefined ? { lastActivityAt: e.lastActivityAt } : {}),
    ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
    ...(e.stopReason !== undefined ? { stopReason: e.stopReason } : {}),
  };
}

/**
 * Pure: which entries a proxy activity report moves forward. Unknown names and unparsable times
 * are ignored, times in the future are clamped to now, and an older time never moves
 * `lastActivityAt` back.
 */
export function activityUpdates(
  entries: ReadonlyArray<
    Readonly<Pick<KvCodespaceEntry, 'uid' | 'state' | 'lastActivityAt'> & { name: string }>
  >,
  report: Readonly<Record<string, string>>,
  nowMs: number,
): { uid: string; lastActivityAt: string }[] {
  // A name can be held by a running codespace and an older stopped one (recreated under a new uid):
  // the person is using the running one.
  const byName = new Map<string, (typeof entries)[number]>();
  for (const e of entries) if (!byName.has(e.name) || e.state === 'running') byName.set(e.name, e);
  const updates: { uid: string; lastActivityAt: string }[] = [];
  for (const [name, iso] of Object.entries(report)) {
    const entry = byName.get(name);
    const atMs = Date.parse(iso);
    if (!entry || Number.isNaN(atMs)) continue;
    const clampedMs = Math.min(atMs, nowMs);
    if (entry.lastActivityAt !== undefined && Date.parse(entry.lastActivityAt) >= clampedMs) continue;
    updates.push({ uid: entry.uid, lastActivityAt: new Date(clampedMs).toISOString() });
  }
  return updates;
}
