import type { Redis } from 'ioredis';
import type { Codespace } from '../../model/codespace.js';
import { CodeyardError } from '../../model/errors.js';
import type { WatchEvent } from '../../model/events.js';
import type { Heartbeat, NodeRecord } from '../../model/node.js';
import { markedForDeletion, wasEverPlaced } from '../deletion.js';
import { checkedEpoch, checkedLeaseDurationMs } from '../lease-arguments.js';
import { nodeRecordFromHeartbeat, retiredBootIdsMax } from '../node-record.js';
import {
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
import { deletionAttemptsMax, historyLimitDefault } from '../store-limits.js';
import { WatchHub } from '../watch-hub.js';
import { parseCodespace, splitAroundResourceVersion } from './codespace-json.js';
import { openCommandConnection, openWatchConnection, type ConnectionOptions } from './connections.js';
import { keyPrefixDefault, storeKeys, type StoreKeys } from './keys.js';
import { listCodespaceJson, listCodespaces } from './list-codespaces.js';
import { RedisWatchSource } from './redis-watch-source.js';
import { errorForScriptResult, scriptResult, type ScriptErrorContext } from './script-errors.js';
import { defineScripts, runScript, type ScriptArgument, type ScriptName } from './scripts.js';
import { guarded, toStoreError } from './unavailable.js';

export const commandTimeoutMsDefault = 1500;
export const connectTimeoutMsDefault = 2000;
export const reconnectDelayMaxMsDefault = 1000;
export const watchBlockMsDefault = 2000;
export const watchReadCountMaxDefault = 1000;
export const watchRetryDelayMsDefault = 100;
export interface RedisStoreOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Prefix of every key; default `codeyard:`. */
  keyPrefix?: string;
  /** Watch events retained in the stream (MAXLEN ~); default `historyLimitDefault`. */
  historyLimit?: number;
  /** A command without an answer within this fails with STORE_UNAVAILABLE. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect back-off ceiling. */
  reconnectDelayMaxMs?: number;
  /** A watch channel quiet this long makes the feed check the counter for unpublished changes. */
  watchBlockMs?: number;
  watchReadCountMax?: number;
  watchRetryDelayMs?: number;
}

/**
 * The production store. Every write is one Lua script (compare-and-set, version counter, stream
 * event, indexes, leader fence — all or nothing); reads are plain commands. When Redis is down,
 * calls fail fast with STORE_UNAVAILABLE (no offline queue, no retries, a command timeout) and
 * work again by themselves once ioredis has reconnected.
 */
export class RedisStore implements Store {
  private readonly redis: Redis;
  private readonly keys: StoreKeys;
  private readonly historyLimit: number;
  private readonly hub: WatchHub;
  private closed = false;
  /** The records `listNodes` last returned, with the change marks they were read under. */
  private readonly listedNodes = new Map<string, { readonly mark: string; readonly node: NodeRecord }>();

  /** Connects and waits until Redis answers (STORE_UNAVAILABLE after `connectTimeoutMs`). */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(options);
    try {
      await store.waitUntilReady(options.connectTimeoutMs ?? connectTimeoutMsDefault);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Does not wait for the connection: calls fail with STORE_UNAVAILABLE until it is up. */
  constructor(options: RedisStoreOptions) {
    this.keys = storeKeys(options.keyPrefix ?? keyPrefixDefault);
    this.historyLimit = options.historyLimit ?? historyLimitDefault;
    if (!Number.isInteger(this.historyLimit) || this.historyLimit < 1) {
      throw new CodeyardError('VALIDATION_FAILED', 'historyLimit must be a positive integer', {
        field: 'historyLimit',
      });
    }
    const connection: ConnectionOptions = {
      url: options.url,
      connectTimeoutMs: options.connectTimeoutMs ?? connectTimeoutMsDefault,
      commandTimeoutMs: options.commandTimeoutMs ?? commandTimeoutMsDefault,
      reconnectDelayMaxMs: options.reconnectDelayMaxMs ?? reconnectDelayMaxMsDefault,
    };
    this.redis = openCommandConnection(connection);
    defineScripts(this.redis);

    const watchBlockMs = options.watchBlockMs ?? watchBlockMsDefault;
    const source = new RedisWatchSource({
      commands: this.redis,
      keys: this.keys,
      blockMs: watchBlockMs,
      readCountMax: options.watchReadCountMax ?? watchReadCountMaxDefault,
      retryDelayMs: options.watchRetryDelayMs ?? watchRetryDelayMsDefault,
      // A dropped subscriber reconnects by itself; the feed then reads what it missed from the stream.
      openTail: () => openWatchConnection({ ...connection, blockMs: watchBlockMs }),
    });
    this.hub = new WatchHub(source);
  }

  async createCodespace(codespace: Codespace, options: { maxPerOwner: number }): Promise<Codespace> {
    const { name, owner } = codespace.metadata;
    const json = splitAroundResourceVersion(codespace);
    const version = await this.write(
      'createCodespace',
      [
        this.keys.codespace(name),
        this.keys.codespaceNames,
        this.keys.ownerCodespaces(owner),
        this.keys.resourceVersion,
        this.keys.events,
      ],
      [name, options.maxPerOwner, json.before, json.after, this.historyLimit, this.keys.eventsChannel],
      { name, owner, maxPerOwner: options.maxPerOwner },
    );
    return withResourceVersion(codespace, version);
  }

  async getCodespace(name: string): Promise<Codespace | undefined> {
    const json = await this.read(() => this.redis.get(this.keys.codespace(name)));
    return json === null ? undefined : parseCodespace(json);
  }

  async listCodespaces(options: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    return listCodespaces(this.redis, this.keys, options);
  }

  async listCodespaceJson(options: ListOptions = {}): Promise<ListJsonResult> {
    this.assertOpen();
    return listCodespaceJson(this.redis, this.keys, options);
  }

  async updateCodespace(codespace: Codespace, options: WriteOptions): Promise<Codespace> {
    const { name, owner } = codespace.metadata;
    const json = splitAroundResourceVersion(codespace);
    const version = await this.write(
      'updateCodespace',
      [this.keys.codespace(name), this.keys.resourceVersion, this.keys.events, this.keys.leaderEpoch],
      [
        options.expectedResourceVersion,
        fenceArgument(options),
        owner,
        json.before,
        json.after,
        this.historyLimit,
        this.keys.eventsChannel,
      ],
      { name, expectedResourceVersion: options.expectedResourceVersion, ...fenceContext(options) },
    );
    return withResourceVersion(codespace, version);
  }

  async requestCodespaceDeletion(
    name: string,
    options: { now: string; expectedResourceVersion?: string },
  ): Promise<{ object: Codespace; removed: boolean }> {
    // Decide from what is stored, then write with compare-and-set on the version read; if a
    // writer slipped in between, look again (or report CONFLICT when the caller pinned a version).
    for (let attempt = 1; ; attempt += 1) {
      const stored = await this.getCodespace(name);
      if (stored === undefined) {
        throw new CodeyardError('CODESPACE_NOT_FOUND', `codespace ${name} not found`);
      }
      const expected = options.expectedResourceVersion;
      if (expected !== undefined && stored.metadata.resourceVersion !== expected) {
        throw errorForScriptResult(scriptResult.conflict, { name, expectedResourceVersion: expected });
      }
      if (stored.metadata.deletionTimestamp !== undefined) {
        return { object: stored, removed: false };
      }
      try {
        if (!wasEverPlaced(stored)) {
          return { object: await this.remove(stored, { requireDeletionTimestamp: false }), removed: true };
        }
        const marked = await this.updateCodespace(markedForDeletion(stored, options.now), {
          expectedResourceVersion: stored.metadata.resourceVersion,
        });
        return { object: marked, removed: false };
      } catch (error) {
        const raced = error instanceof CodeyardError && error.code === 'CONFLICT';
        if (!raced || expected !== undefined || attempt >= deletionAttemptsMax) {
          throw error;
        }
      }
    }
  }

  async finalizeCodespaceDeletion(name: string, options: WriteOptions): Promise<void> {
    const stored = await this.getCodespace(name);
    if (stored === undefined || stored.metadata.resourceVersion !== options.expectedResourceVersion) {
      // Refuse as the script would, in its order: a deposed leader hears that first.
      if (options.fence !== undefined && options.fence.leaderEpoch !== (await this.currentEpoch())) {
        throw errorForScriptResult(scriptResult.staleEpoch, { name, leaderEpoch: options.fence.leaderEpoch });
      }
      if (stored === undefined) {
        throw errorForScriptResult(scriptResult.codespaceNotFound, { name });
      }
      throw errorForScriptResult(scriptResult.conflict, {
        name,
        expectedResourceVersion: options.expectedResourceVersion,
      });
    }
    // The script re-checks version and fence atomically, so what we read is exactly what is
    // removed and what the DELETED event carries.
    await this.remove(stored, { requireDeletionTimestamp: true, fence: options.fence });
  }

  async currentResourceVersion(): Promise<number> {
    return Number((await this.read(() => this.redis.get(this.keys.resourceVersion))) ?? '0');
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
    const node = nodeRecordFromHeartbeat(heartbeat, {
      receivedAtMs: options.receivedAtMs,
      unschedulable: false,
    });
    const reply = (await this.write(
      'applyHeartbeat',
      [this.keys.node(heartbeat.nodeName), this.keys.nodeNames],
      [
        heartbeat.nodeName,
        heartbeat.bootId,
        heartbeat.sequence,
        JSON.stringify(node),
        retiredBootIdsMax,
        options.expectedFleet ?? '',
        heartbeat.fleet,
        options.receivedAtMs,
      ],
      { name: heartbeat.nodeName },
    )) as [number, string, string];
    if (reply[0] !== 1) return { accepted: false, node: nodeFromStored(reply[1], reply[2]) };
    // Accepted: the stored JSON is the one just sent, so it is neither sent back nor parsed.
    node.unschedulable = reply[2] === '1';
    return { accepted: true, node };
  }

  async getNode(name: string): Promise<NodeRecord | undefined> {
    const [json, unschedulable] = await this.read(() =>
      this.redis.hmget(this.keys.node(name), 'json', 'unschedulable'),
    );
    return json === null || json === undefined ? undefined : nodeFromStored(json, unschedulable ?? '0');
  }

  /**
   * Every node record. Reads each node's change marks first (boot id, sequence, receive time,
   * cordon) and the JSON only of nodes whose marks moved since the last list: polled every second
   * over thousands of ~6 KB records of which most did not beat since, parsing them all dominated
   * the orchestrator's heartbeat path. Unchanged records are the same objects as last time
   * (records are read-only to every caller).
   */
  async listNodes(): Promise<NodeRecord[]> {
    const names = await this.read(() => this.redis.zrange(this.keys.nodeNames, 0, -1));
    if (names.length === 0) {
      this.listedNodes.clear();
      return [];
    }
    const marksPipeline = this.redis.pipeline();
    for (const name of names) {
      marksPipeline.hmget(this.keys.node(name), 'bootId', 'sequence', 'receivedAtMs', 'unschedulable');
    }
    const marks = (await this.read(() => marksPipeline.exec())) ?? [];
    const changed: string[] = [];
    const markOf = new Map<string, string>();
    for (const [index, name] of names.entries()) {
      const [error, value] = marks[index] ?? [null, null];
      if (error !== null && error !== undefined) throw toStoreError(error);
      const mark = (value as (string | null)[]).join('\u0000');
      markOf.set(name, mark);
      if (this.listedNodes.get(name)?.mark !== mark) changed.push(name);
    }
    if (changed.length > 0) {
      const jsonPipeline = this.redis.pipeline();
      for (const name of changed) jsonPipeline.hmget(this.keys.node(name), 'json', 'unschedulable');
      const replies = (await this.read(() => jsonPipeline.exec())) ?? [];
      for (const [index, name] of changed.entries()) {
        const [error, value] = replies[index] ?? [null, null];
        if (error !== null && error !== undefined) throw toStoreError(error);
        const [json, unschedulable] = value as (string | null)[];
        if (json === null || json === undefined) this.listedNodes.delete(name);
        else
          this.listedNodes.set(name, {
            mark: markOf.get(name) as string,
            node: nodeFromStored(json, unschedulable ?? '0'),
          });
      }
    }
    const listed = new Set(names);
    for (const name of this.listedNodes.keys()) if (!listed.has(name)) this.listedNodes.delete(name);
    const nodes: NodeRecord[] = [];
    for (const name of names) {
      const entry = this.listedNodes.get(name);
      if (entry !== undefined) nodes.push(entry.node);
    }
    return nodes;
  }

  async setNodeUnschedulable(name: string, unschedulable: boolean): Promise<NodeRecord> {
    const json = (await this.write(
      'setNodeUnschedulable',
      [this.keys.node(name)],
      [unschedulable ? '1' : '0'],
      {
        name,
      },
    )) as string;
    return nodeFromStored(json, unschedulable ? '1' : '0');
  }

  async deleteNode(name: string): Promise<void> {
    await this.write('deleteNode', [this.keys.node(name), this.keys.nodeNames], [name], { name });
  }

  async tryAcquireLeadership(options: {
    holder: string;
    leaseDurationMs: number;
  }): Promise<LeadershipResult> {
    const [acquired, epoch, holder] = (await this.write(
      'acquireLeadership',
      [this.keys.leaderLease, this.keys.leaderEpoch],
      [options.holder, checkedLeaseDurationMs(options.leaseDurationMs)],
      { name: 'leader lease' },
    )) as [number, number, string];
    return { acquired: acquired === 1, epoch, holder };
  }

  async renewLeadership(options: {
    holder: string;
    epoch: number;
    leaseDurationMs: number;
  }): Promise<boolean> {
    const renewed = await this.write(
      'renewLeadership',
      [this.keys.leaderLease, this.keys.leaderEpoch],
      [options.holder, options.epoch, checkedLeaseDurationMs(options.leaseDurationMs)],
      { name: 'leader lease' },
    );
    return renewed === 1;
  }

  async releaseLeadership(options: { holder: string; epoch: number }): Promise<void> {
    await this.write('releaseLeadership', [this.keys.leaderLease], [options.holder, options.epoch], {
      name: 'leader lease',
    });
  }

  async raiseEpochAtLeast(epoch: number): Promise<number> {
    return (await this.write('raiseEpoch', [this.keys.leaderEpoch], [checkedEpoch(epoch)], {
      name: 'leader epoch',
    })) as number;
  }

  async ping(): Promise<void> {
    await this.read(() => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await this.hub.close();
    this.redis.disconnect();
  }

  private async currentEpoch(): Promise<number> {
    return Number((await this.read(() => this.redis.get(this.keys.leaderEpoch))) ?? '0');
  }

  private async remove(
    stored: Codespace,
    options: { requireDeletionTimestamp: boolean; fence?: WriteOptions['fence'] },
  ): Promise<Codespace> {
    const { name, owner, resourceVersion } = stored.metadata;
    const json = splitAroundResourceVersion(stored);
    const writeOptions: WriteOptions = {
      expectedResourceVersion: resourceVersion,
      ...(options.fence === undefined ? {} : { fence: options.fence }),
    };
    const version = await this.write(
      'removeCodespace',
      [
        this.keys.codespace(name),
        this.keys.codespaceNames,
        this.keys.ownerCodespaces(owner),
        this.keys.resourceVersion,
        this.keys.events,
        this.keys.leaderEpoch,
      ],
      [
        name,
        resourceVersion,
        fenceArgument(writeOptions),
        options.requireDeletionTimestamp ? '1' : '0',
        json.before,
        json.after,
        this.historyLimit,
        this.keys.eventsChannel,
      ],
      { name, expectedResourceVersion: resourceVersion, ...fenceContext(writeOptions) },
    );
    return withResourceVersion(stored, version);
  }

  /** Runs a write script; a negative number is a refusal, mapped to its typed error. */
  private async write(
    script: ScriptName,
    keys: readonly string[],
    args: readonly ScriptArgument[],
    context: ScriptErrorContext,
  ): Promise<unknown> {
    this.assertOpen();
    let reply: unknown;
    try {
      reply = await runScript(this.redis, script, keys, args);
    } catch (error) {
      throw toStoreError(error);
    }
    if (typeof reply === 'number' && reply < 0) {
      throw errorForScriptResult(reply, context);
    }
    return reply;
  }

  private async read<T>(command: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return guarded(command);
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    if (this.redis.status === 'ready') {
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new CodeyardError('STORE_UNAVAILABLE', `Redis did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new CodeyardError('STORE_UNAVAILABLE', 'the store is closed');
    }
  }
}

/**
 * The written object as stored: a new top level and metadata (the only field the store changes),
 * everything else shared with the object the caller passed in. Both are read-only by the Store
 * contract, and no caller touches its argument after the write, so sharing is unobservable; a deep
 * copy (`structuredClone`) cost more than the rest of the write's CPU in the placement profile.
 */
function withResourceVersion(codespace: Codespace, version: unknown): Codespace {
  return { ...codespace, metadata: { ...codespace.metadata, resourceVersion: String(version) } };
}

function nodeFromStored(json: string, unschedulable: string): NodeRecord {
  const node = JSON.parse(json) as NodeRecord;
  node.unschedulable = unschedulable === '1';
  return node;
}

function fenceArgument(options: WriteOptions): string {
  return options.fence === undefined ? '' : String(options.fence.leaderEpoch);
}

function fenceContext(options: WriteOptions): { leaderEpoch?: number } {
  return options.fence === undefined ? {} : { leaderEpoch: options.fence.leaderEpoch };
}
