import type { NodeRecord, ObservedContainer } from '../model/node.js';

/** What in a container report matters to the planner (activity alone does not trigger a pass). */
function containerFingerprint(c: ObservedContainer): string {
  return `${c.state}|${c.generation}|${c.ready ?? ''}|${c.stopReason ?? ''}|${c.exitCode ?? ''}`;
}

/** The node-level facts whose change concerns every codespace on the node. */
function nodeFlagsOf(record: NodeRecord): string {
  return `${record.ready}|${record.draining}|${record.unschedulable}|${record.volumes.length}|${record.bootId}`;
}

export interface NodeReportChanges {
  /** Codespace uids whose container report changed, appeared or vanished, in report order. */
  readonly changedUids: string[];
  /** Whether the node's own flags changed (or were never seen). */
  readonly flagsChanged: boolean;
}

/**
 * Remembers the last node reports so that each poll tells what changed: node records are polled,
 * not watched, and an unchanged report (heartbeats arrive every second) must not trigger a pass.
 */
export class NodeReportDiff {
  private readonly reportedFingerprints = new Map<string, Map<string, string>>();
  private readonly nodeFlags = new Map<string, string>();
  /** The record last observed per node: the store hands back the same object while it is unchanged. */
  private readonly lastRecords = new Map<string, NodeRecord>();

  /** Records this report of its node and returns what changed since the previous one. */
  observe(record: NodeRecord): NodeReportChanges {
    if (this.lastRecords.get(record.name) === record) return { changedUids: [], flagsChanged: false };
    this.lastRecords.set(record.name, record);
    const changedUids: string[] = [];
    const old = this.reportedFingerprints.get(record.name) ?? new Map<string, string>();
    const fresh = new Map(record.containers.map((c) => [c.uid, containerFingerprint(c)]));
    for (const [uid, print] of fresh) if (old.get(uid) !== print) changedUids.push(uid);
    for (const uid of old.keys()) if (!fresh.has(uid)) changedUids.push(uid);
    this.reportedFingerprints.set(record.name, fresh);
    const flags = nodeFlagsOf(record);
    const flagsChanged = this.nodeFlags.get(record.name) !== flags;
    this.nodeFlags.set(record.name, flags);
    return { changedUids, flagsChanged };
  }

  /** The node's record is gone: a node of that name later is new. */
  forget(nodeName: string): void {
    this.reportedFingerprints.delete(nodeName);
    this.nodeFlags.delete(nodeName);
    this.lastRecords.delete(nodeName);
  }
}
