import type { Codespace } from '../model/codespace.js';
import type { CodeyardError } from '../model/errors.js';
import type { WatchEvent } from '../model/events.js';
import type { Heartbeat, NodeRecord } from '../model/node.js';

/**
 * The orchestrator's only view of persistent state. Two implementations share one
 * contract suite: `RedisStore` (production) and `MemoryStore` (embedded default, fast tests).
 *
 * Errors are `CodeyardError`s: CODESPACE_EXISTS, CODESPACE_NOT_FOUND, CONFLICT (stale
 * resourceVersion), QUOTA_EXCEEDED, STALE_EPOCH (fenced reconciler write),
 * RESOURCE_VERSION_TOO_OLD (watch), STORE_UNAVAILABLE (backend unreachable; nothing written).
 * Values returned are fresh copies; callers must treat them as read-only. The object a write
 * returns may share its unchanged parts with the object passed in (neither may be mutated after).
 */
export interface Store {
  /**
   * Stores a new codespace. The store assigns `metadata.resourceVersion` from its global
   * counter; everything else (uid, timestamps, generation 1, initial status) comes from the caller.
   * Fails with CODESPACE_EXISTS, or QUOTA_EXCEEDED when the owner already has `maxPerOwner`.
   */
  createCodespace(codespace: Codespace, options: { maxPerOwner: number }): Promise<Codespace>;

  getCodespace(name: string): Promise<Codespace | undefined>;

  /** Pages are ordered by name; `continueAfter` is the last name of the previous page. */
  listCodespaces(options?: ListOptions): Promise<ListResult>;

  /**
   * The page `listCodespaces` returns (same scoping, selector, order and paging), each item as
   * the JSON the store holds instead of a parsed copy: a caller that only writes the items out
   * (the list API) skips a parse and a re-serialization per item.
   */
  listCodespaceJson(options?: ListOptions): Promise<ListJsonResult>;

  /**
   * Replaces the whole object if its stored resourceVersion equals `expectedResourceVersion`
   * (CONFLICT otherwise). With `fence`, the write is refused with STALE_EPOCH unless
   * `fence.leaderEpoch` is the current leader epoch: a deposed leader cannot write.
   * The caller sets `metadata.generation` (bumped when the spec changes).
   */
  updateCodespace(codespace: Codespace, options: WriteOptions): Promise<Codespace>;

  /**
   * Two-phase delete. A codespace that was never placed on a node (no status.nodeName and
   * no status.volumeNodeName) is removed at once (`removed: true`, DELETED event). Otherwise
   * `metadata.deletionTimestamp` is set and `status.phase` becomes Deleting (MODIFIED event);
   * the reconciler cleans up and calls `finalizeCodespaceDeletion`. Repeating it is harmless.
   */
  requestCodespaceDeletion(
    name: string,
    options: { now: string; expectedResourceVersion?: string },
  ): Promise<{ object: Codespace; removed: boolean }>;

  /** Removes an object that has a deletionTimestamp (DELETED event). */
  finalizeCodespaceDeletion(name: string, options: WriteOptions): Promise<void>;

  /** The store-wide version of the latest change. */
  currentResourceVersion(): Promise<number>;

  /**
   * Every change with resourceVersion > `fromResourceVersion`, in order, each exactly once,
   * then live changes until `signal` aborts. Throws RESOURCE_VERSION_TOO_OLD (on the first
   * `next()`) when retained history no longer covers `fromResourceVersion`. A consumer that
   * falls more than `bufferLimit` events behind is cut off: the iteration ends early and the
   * consumer resumes from the last version it saw. One backend subscription per store,
   * fanned out in-process.
   */
  watchCodespaces(options: WatchOptions): AsyncIterable<WatchEvent>;

  /**
   * The events of `watchCodespaces` (same order, exactly-once, errors, cut-off and abort), each
   * run of events that is ready at once handed over as one non-empty array of at most
   * `watchBatchEventsMax`. For fan-out consumers (the SSE and WebSocket watch): one async step per
   * batch rather than per event, and one write per batch.
   */
  watchCodespaceBatches(options: WatchOptions): AsyncIterable<readonly WatchEvent[]>;

  /**
   * The push form of the watch, for in-process consumers: the same events (every change after
   * `fromResourceVersion`, in order, each exactly once, then live changes), handed to
   * `onEvents` synchronously as the store's one backend subscription reads them — the very
   * (frozen, shared) array for every subscriber that keeps up, no promise per subscriber.
   * `onEnd` is called once if the subscription ends by itself (see `WatchSubscriptionOptions`);
   * `close()` ends it silently. The only back-pressure is `pause()`: a paused subscriber more than
   * `bufferLimit` events behind is cut off, exactly as a watch iterator that stops reading.
   */
  subscribeCodespaceEvents(options: WatchSubscriptionOptions): WatchSubscription;

  /**
   * Records a node's heartbeat. A beat whose `sequence` is not newer than the last accepted
   * one for the same `bootId` is ignored (`accepted: false`). Operator fields
   * (`unschedulable`) survive beats. `receivedAtMs` is the orchestrator's clock. With
   * `expectedFleet`, a node already recorded under another fleet is refused (FORBIDDEN) in the
   * same atomic step.
   */
  applyHeartbeat(heartbeat: Heartbeat, options: HeartbeatOptions): Promise<HeartbeatResult>;
  getNode(name: string): Promise<NodeRecord | undefined>;
  listNodes(): Promise<NodeRecord[]>;
  /** Cordon / uncordon. NODE_NOT_FOUND if unknown. */
  setNodeUnschedulable(name: string, unschedulable: boolean): Promise<NodeRecord>;
  deleteNode(name: string): Promise<void>;

  /** Leader lease with a monotonically increasing epoch (fencing token). */
  tryAcquireLeadership(options: { holder: string; leaseDurationMs: number }): Promise<LeadershipResult>;
  /** Extends the lease if `holder` still holds it at `epoch`; false means leadership is lost. */
  renewLeadership(options: { holder: string; epoch: number; leaseDurationMs: number }): Promise<boolean>;
  releaseLeadership(options: { holder: string; epoch: number }): Promise<void>;
  /** After a store loss, raise the epoch counter to at least what nodes have seen. */
  raiseEpochAtLeast(epoch: number): Promise<number>;

  /** Resolves when the backend answers; throws STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ListOptions {
  owner?: string;
  /** Every key must match exactly (`app=web,team=core`). */
  labelSelector?: Readonly<Record<string, string>>;
  limit?: number;
  continueAfter?: string;
}

export interface ListResult {
  items: Codespace[];
  /** The store version the list reflects; a watch from here misses nothing. */
  resourceVersion: number;
  /** Present when more items follow: pass it as `continueAfter`. */
  continueAfter?: string;
}

/** A list page whose items are each one `Codespace` as JSON text, exactly as stored. */
export interface ListJsonResult {
  items: string[];
  resourceVersion: number;
  continueAfter?: string;
}

export interface WriteOptions {
  expectedResourceVersion: string;
  fence?: { leaderEpoch: number };
}

export interface WatchOptions {
  fromResourceVersion: number;
  signal: AbortSignal;
  bufferLimit?: number;
}

export interface WatchSubscriptionOptions {
  fromResourceVersion: number;
  /** Live events a paused subscriber may fall behind before it is cut off. */
  bufferLimit?: number;
  /**
   * Each run of events that is ready: non-empty, at most `watchBatchEventsMax`, frozen, shared
   * with other subscribers. Called synchronously from the store's read loop: do the work or hand
   * it on, but do not block. A throw ends this subscription only (`onEnd` gets INTERNAL with the
   * error as its cause); every other subscriber carries on.
   */
  onEvents(events: readonly WatchEvent[]): void;
  /**
   * The subscription ended by itself, once. With RESOURCE_VERSION_TOO_OLD (list again) or
   * STORE_UNAVAILABLE (try again later) when it could not start; with INTERNAL when `onEvents`
   * threw; undefined when it was cut off (paused past `bufferLimit`, the feed skipped versions,
   * history failed mid catch-up, the store closed): subscribe again from the last version seen.
   */
  onEnd(error: CodeyardError | undefined): void;
}

export interface WatchSubscription {
  /** Stops delivery at once (also from inside `onEvents`); `onEnd` is not called. Idempotent. */
  close(): void;
  /** No more `onEvents` until `resume()`; the store holds what arrives, up to `bufferLimit`. */
  pause(): void;
  /** Hands over what is held (synchronously, before it returns), then pushes live events again. */
  resume(): void;
}

export interface HeartbeatOptions {
  /** The orchestrator's clock when the beat arrived. */
  receivedAtMs: number;
  /** Refuse the beat (FORBIDDEN) if the node is already recorded under a different fleet. */
  expectedFleet?: string;
}

export interface HeartbeatResult {
  accepted: boolean;
  node: NodeRecord;
}

export interface LeadershipResult {
  acquired: boolean;
  epoch: number;
  holder: string;
}

export const watchBufferLimitDefault = 1000;
/** Events per `watchCodespaceBatches` batch, at most (a bound on one write to one client). */
export const watchBatchEventsMax = 1000;
export const listLimitMax = 10_000;
