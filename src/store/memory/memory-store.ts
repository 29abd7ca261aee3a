import type { Codespace } from '../../model/codespace.js';
import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent, WatchEventType } from '../../model/events.js';
import type { Heartbeat, NodeRecord } from '../../model/node.js';
import { markedForDeletion, wasEverPlaced } from '../deletion.js';
import { matchesLabels } from '../label-selector.js';
import { checkedEpoch, checkedLeaseDurationMs } from '../lease-arguments.js';
import { isStaleBeat, nodeRecordFromHeartbeat, retiredAfter } from '../node-record.js';
import {
  listLimitMax,
  type HeartbeatOptions,
  type HeartbeatResult,
  type LeadershipResult,
  type ListJsonResult,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchOptions,
  type WatchSubscription,
  type WatchSubscriptionOptions,
  type WriteOptions,
} from '../store.js';
import { historyLimitDefault } from '../store-limits.js';
import { deepFreeze } from '../deep-freeze.js';
import { WatchHub, type WatchSource } from '../watch-hub.js';

export interface MemoryStoreOptions {
  /** Watch events retained for resuming; default `historyLimitDefault`. */
  historyLimit?: number;
  /** Clock for lease expiry (ms since epoch); default `Date.now`. */
  nowMs?: () => number;
}

/** A stored codespace: frozen for reading fields, its JSON for handing out fresh copies cheaply. */
interface StoredCodespace {
  readonly object: Readonly<Codespace>;
  readonly json: string;
}

interface Lease {
  holder: string;
  epoch: number;
  expiresAtMs: number;
}

/**
 * The embedded store: same contract as `RedisStore`, in one process, nothing persisted. Every
 * method does its work synchronously before its first `await`, so each call is atomic, exactly
 * as each Redis script is.
 */
export class MemoryStore implements Store {
  private readonly codespaces = new Map<string, StoredCodespace>();
  /** Names in order, rebuilt after a create or a removal (lists are far more frequent). */
  private sortedNames: string[] | undefined;
  private readonly countByOwner = new Map<string, number>();
  private readonly nodes = new Map<string, NodeRecord>();
  /** Per node: boot ids it has left, newest first (their late beats are refused). */
  private readonly retiredBootIds = new Map<string, string[]>();
  private readonly history: WatchEvent[] = [];
  private historyHead = 0;
  private resourceVersion = 0;
  private epoch = 0;
  private lease: Lease | undefined;
  private deliver: ((events: readonly WatchEvent[]) => void) | undefined;
  /** Events committed in this synchronous run, delivered together in a microtask. */
  private undelivered: WatchEvent[] = [];
  private readonly historyLimit: number;
  private readonly nowMs: () => number;
  private readonly hub: WatchHub;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? historyLimitDefault;
    if (!Number.isInteger(this.historyLimit) || this.historyLimit < 1) {
      throw new CodeyardError('VALIDATION_FAILED', 'historyLimit must be a positive integer', {
        field: 'historyLimit',
      });
    }
    this.nowMs = options.nowMs ?? Date.now;
    this.hub = new WatchHub(this.watchSource());
  }

  async createCodespace(codespace: Codespace, options: { maxPerOwner: number }): Promise<Codespace> {
    this.assertOpen();
    const name = codespace.metadata.name;
    if (this.codespaces.has(name)) {
      throw new CodeyardError('CODESPACE_EXISTS', `codespace ${name} already exists`, {
        field: 'metadata.name',
      });
    }
    if ((this.countByOwner.get(codespace.metadata.owner) ?? 0) >= options.maxPerOwner) {
      throw new CodeyardError(
        'QUOTA_EXCEEDED',
        `owner ${codespace.metadata.owner} already has ${options.maxPerOwner} codespaces`,
      );
    }
    return this.commit('ADDED', codespace);
  }

  async getCodespace(name: string): Promise<Codespace | undefined> {
    this.assertOpen();
    const stored = this.codespaces.get(name);
    return stored === undefined ? undefined : copyOf(stored);
  }

  async listCodespaces(options: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    const page = this.listStored(options);
    return { ...page, items: page.items.map(copyOf) };
  }

  async listCodespaceJson(options: ListOptions = {}): Promise<ListJsonResult> {
    this.assertOpen();
    const page = this.listStored(options);
    return { ...page, items: page.items.map((stored) => stored.json) };
  }

  async updateCodespace(codespace: Codespace, options: WriteOptions): Promise<Codespace> {
    this.assertOpen();
    this.checkFence(options);
    const stored = this.expectVersion(codespace.metadata.name, options.expectedResourceVersion);
    if (stored.object.metadata.owner !== codespace.metadata.owner) {
      throw new CodeyardError('VALIDATION_FAILED', 'the owner of a codespace cannot change', {
        field: 'metadata.owner',
      });
    }
    return this.commit('MODIFIED', codespace);
  }

  async requestCodespaceDeletion(
    name: string,
    options: { now: string; expectedResourceVersion?: string },
  ): Promise<{ object: Codespace; removed: boolean }> {
    this.assertOpen();
    const stored =
      options.expectedResourceVersion === undefined
        ? this.expectExisting(name)
        : this.expectVersion(name, options.expectedResourceVersion);
    if (stored.object.metadata.deletionTimestamp !== undefined) {
      return { object: copyOf(stored), removed: false };
    }
    if (!wasEverPlaced(stored.object)) {
      return { object: this.commit('DELETED', stored.object), removed: true };
    }
    return { object: this.commit('MODIFIED', markedForDeletion(stored.object, options.now)), removed: false };
  }

  async finalizeCodespaceDeletion(name: string, options: WriteOptions): Promise<void> {
    this.assertOpen();
    this.checkFence(options);
    const stored = this.expectVersion(name, options.expectedResourceVersion);
    if (stored.object.metadata.deletionTimestamp === undefined) {
      throw new CodeyardError('CONFLICT', `codespace ${name} has no deletionTimestamp`);
    }
    this.commit('DELETED', stored.object);
  }

  async currentResourceVersion(): Promise<number> {
    this.assertOpen();
    return this.resourceVersion;
  }

  watchCodespaces(options: WatchOptions): AsyncIterable<WatchEvent> {
    return this.hub.watch(options);
  }

  watchCodespaceBatches(options: WatchOptions): AsyncIterable<readonly WatchEvent[]> {
    return this.hub.watchBatches(options);
  }

  subscribeCodespaceEvents(options: WatchSubscriptionOptions): WatchSubscription {
    return this.hub.subscribe(options);
  }

  async applyHeartbeat(heartbeat: Heartbeat, options: HeartbeatOptions): Promise<HeartbeatResult> {
    this.assertOpen();
    const stored = this.nodes.get(heartbeat.nodeName);
    if (
      stored !== undefined &&
      options.expectedFleet !== undefined &&
      stored.fleet !== options.expectedFleet
    ) {
      throw new CodeyardError('FORBIDDEN', `node "${heartbeat.nodeName}" belongs to another fleet`, {
        field: 'nodeName',
      });
    }
    const retired = this.retiredBootIds.get(heartbeat.nodeName);
    const boots = stored && { ...stored, ...(retired ? { retiredBootIds: retired } : {}) };
    if (boots !== undefined && isStaleBeat(boots, heartbeat)) {
      return { accepted: false, node: structuredClone(stored!) };
    }
    const node = nodeRecordFromHeartbeat(heartbeat, {
      receivedAtMs: options.receivedAtMs,
      unschedulable: stored?.unschedulable ?? false,
    });
    this.nodes.set(node.name, node);
    this.retiredBootIds.set(node.name, retiredAfter(boots, heartbeat));
    return { accepted: true, node: structuredClone(node) };
  }

  async getNode(name: string): Promise<NodeRecord | undefined> {
    this.assertOpen();
    const stored = this.nodes.get(name);
    return stored === undefined ? undefined : structuredClone(stored);
  }

  async listNodes(): Promise<NodeRecord[]> {
    this.assertOpen();
    return [...this.nodes.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((node) => structuredClone(node));
  }

  async setNodeUnschedulable(name: string, unschedulable: boolean): Promise<NodeRecord> {
    this.assertOpen();
    const stored = this.nodes.get(name);
    if (stored === undefined) {
      throw new CodeyardError('NODE_NOT_FOUND', `node ${name} not found`);
    }
    const node = { ...stored, unschedulable };
    this.nodes.set(name, node);
    return structuredClone(node);
  }

  async deleteNode(name: string): Promise<void> {
    this.assertOpen();
    this.nodes.delete(name);
    this.retiredBootIds.delete(name);
  }

  async tryAcquireLeadership(options: {
    holder: string;
    leaseDurationMs: number;
  }): Promise<LeadershipResult> {
    this.assertOpen();
    checkedLeaseDurationMs(options.leaseDurationMs);
    const now = this.nowMs();
    const lease = this.liveLease(now);
    if (lease !== undefined && lease.holder !== options.holder) {
      return { acquired: false, epoch: lease.epoch, holder: lease.holder };
    }
    if (lease === undefined || lease.epoch !== this.epoch) {
      // A new term (or the counter was raised under us): a new fencing token.
      this.epoch += 1;
    }
    this.lease = { holder: options.holder, epoch: this.epoch, expiresAtMs: now + options.leaseDurationMs };
    return { acquired: true, epoch: this.epoch, holder: options.holder };
  }

  async renewLeadership(options: {
    holder: string;
    epoch: number;
    leaseDurationMs: number;
  }): Promise<boolean> {
    this.assertOpen();
    checkedLeaseDurationMs(options.leaseDurationMs);
    const now = this.nowMs();
    const lease = this.liveLease(now);
    if (lease === undefined || lease.holder !== options.holder || lease.epoch !== options.epoch) {
      return false;
    }
    if (this.epoch !== options.epoch) {
      return false;
    }
    lease.expiresAtMs = now + options.leaseDurationMs;
    return true;
  }

  async releaseLeadership(options: { holder: string; epoch: number }): Promise<void> {
    this.assertOpen();
    const lease = this.liveLease(this.nowMs());
    if (lease !== undefined && lease.holder === options.holder && lease.epoch === options.epoch) {
      this.lease = undefined;
    }
  }

  async raiseEpochAtLeast(epoch: number): Promise<number> {
    this.assertOpen();
    this.epoch = Math.max(this.epoch, checkedEpoch(epoch));
    return this.epoch;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.hub.close();
  }

  private watchSource(): WatchSource {
    return {
      readAfter: async (after, limit) => this.readHistoryAfter(after, limit),
      start: async (deliver) => {
        this.deliver = deliver;
        return this.resourceVersion;
      },
      stop: async () => {
        this.deliver = undefined;
        this.undelivered = [];
      },
    };
  }

  private readHistoryAfter(after: number, limit: number): readonly WatchEvent[] {
    const first = this.history[this.historyHead];
    if (after < this.resourceVersion && (first === undefined || first.resourceVersion > after + 1)) {
      throw tooOld(after, first?.resourceVersion);
    }
    if (first === undefined) {
      return [];
    }
    // Versions are dense (one event per version), so the index is arithmetic.
    const start = this.historyHead + Math.max(0, after + 1 - first.resourceVersion);
    return this.history.slice(start, start + limit);
  }

  /** Assigns the next version, stores a private frozen copy and publishes one event. */
  private commit(type: WatchEventType, codespace: Readonly<Codespace>): Codespace {
    this.resourceVersion += 1;
    const version = String(this.resourceVersion);
    const json = JSON.stringify({
      ...codespace,
      metadata: { ...codespace.metadata, resourceVersion: version },
    });
    const stored: StoredCodespace = { object: deepFreeze(JSON.parse(json) as Codespace), json };
    const { name, owner } = stored.object.metadata;
    const existed = this.codespaces.has(name);
    if (type === 'DELETED') {
      this.codespaces.delete(name);
      this.countByOwner.set(owner, (this.countByOwner.get(owner) ?? 1) - 1);
    } else {
      this.codespaces.set(name, stored);
      if (!existed) {
        this.countByOwner.set(owner, (this.countByOwner.get(owner) ?? 0) + 1);
      }
    }
    if (existed !== this.codespaces.has(name)) {
      this.sortedNames = undefined;
    }
    // The frozen stored object is shared with watchers: nobody can change it.
    this.publish({ type, resourceVersion: this.resourceVersion, object: stored.object });
    return copyOf(stored);
  }

  /** One page of stored codespaces in name order (see `Store.listCodespaces`). */
  private listStored(options: ListOptions): {
    items: StoredCodespace[];
    resourceVersion: number;
    continueAfter?: string;
  } {
    const limit = Math.max(1, Math.min(options.limit ?? listLimitMax, listLimitMax));
    const names = this.names();
    const items: StoredCodespace[] = [];
    let index = options.continueAfter === undefined ? 0 : firstIndexAfter(names, options.continueAfter);
    for (; index < names.length && items.length < limit; index += 1) {
      const stored = this.codespaces.get(names[index]!)!;
      if (options.owner !== undefined && stored.object.metadata.owner !== options.owner) {
        continue;
      }
      if (!matchesLabels(stored.object.metadata.labels, options.labelSelector)) {
        continue;
      }
      items.push(stored);
    }
    // Like the Redis index: more follows if any later name is in the (owner's) index.
    let more = false;
    for (let rest = index; rest < names.length && !more; rest += 1) {
      more =
        options.owner === undefined ||
        this.codespaces.get(names[rest]!)!.object.metadata.owner === options.owner;
    }
    const last = items[items.length - 1];
    return {
      items,
      resourceVersion: this.resourceVersion,
      ...(more && last !== undefined ? { continueAfter: last.object.metadata.name } : {}),
    };
  }

  private names(): readonly string[] {
    this.sortedNames ??= [...this.codespaces.keys()].sort();
    return this.sortedNames;
  }

  private publish(event: WatchEvent): void {
    // Shared by every watcher that reads it: frozen (the object already is) so no consumer can
    // change another's view.
    this.history.push(Object.freeze(event));
    if (this.history.length - this.historyHead > this.historyLimit) {
      this.historyHead += 1;
      // Compact in bulk so trimming stays O(1) amortised.
      if (this.historyHead >= this.historyLimit) {
        this.history.splice(0, this.historyHead);
        this.historyHead = 0;
      }
    }
    if (this.deliver === undefined) return;
    // Delivered after the write returns, never inside it: push subscribers run code of their own
    // (which may write again), and a burst of writes reaches every watcher as one batch.
    if (this.undelivered.length === 0) queueMicrotask(() => this.deliverCommitted());
    this.undelivered.push(event);
  }

  private deliverCommitted(): void {
    const events = this.undelivered;
    this.undelivered = [];
    this.deliver?.(events);
  }

  private expectExisting(name: string): StoredCodespace {
    const stored = this.codespaces.get(name);
    if (stored === undefined) {
      throw new CodeyardError('CODESPACE_NOT_FOUND', `codespace ${name} not found`);
    }
    return stored;
  }

  private expectVersion(name: string, expectedResourceVersion: string): StoredCodespace {
    const stored = this.expectExisting(name);
    if (stored.object.metadata.resourceVersion !== expectedResourceVersion) {
      throw new CodeyardError(
        'CONFLICT',
        `codespace ${name} is at resourceVersion ${stored.object.metadata.resourceVersion}, not ${expectedResourceVersion}`,
        { field: 'metadata.resourceVersion' },
      );
    }
    return stored;
  }

  private checkFence(options: WriteOptions): void {
    if (options.fence !== undefined && options.fence.leaderEpoch !== this.epoch) {
      throw new CodeyardError(
        'STALE_EPOCH',
        `leader epoch ${options.fence.leaderEpoch} is not the current epoch ${this.epoch}`,
      );
    }
  }

  private liveLease(now: number): Lease | undefined {
    if (this.lease !== undefined && this.lease.expiresAtMs <= now) {
      this.lease = undefined;
    }
    return this.lease;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new CodeyardError('STORE_UNAVAILABLE', 'the store is closed');
    }
  }
}

function copyOf(stored: StoredCodespace): Codespace {
  return JSON.parse(stored.json) as Codespace;
}

/** Index of the first name greater than `after` in a sorted list. */
function firstIndexAfter(names: readonly string[], after: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[middle]! <= after) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

function tooOld(after: number, firstRetained: number | undefined): CodeyardError {
  return new CodeyardError(
    'RESOURCE_VERSION_TOO_OLD',
    `resourceVersion ${after} is older than the retained history` +
      (firstRetained === undefined ? '' : ` (oldest retained: ${firstRetained})`),
    { field: 'resourceVersion' },
  );
}
