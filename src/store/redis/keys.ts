/**
 * Every Redis key the store uses, under one prefix (`codeyard:` by default), so that several
 * stores (tests, environments) can share one server without seeing each other.
 */
export const keyPrefixDefault = 'codeyard:';

export interface StoreKeys {
  /** String: the codespace's JSON (with its resourceVersion inside). */
  codespace(name: string): string;
  /** Sorted set, all scores 0: every codespace name, for ZRANGEBYLEX pagination. */
  readonly codespaceNames: string;
  /** Sorted set, all scores 0: one owner's codespace names (listing by owner, quota). */
  ownerCodespaces(owner: string): string;
  /** String counter: the store-wide resourceVersion of the latest change. */
  readonly resourceVersion: string;
  /** Stream: one entry per change, entry id `<resourceVersion>-0`, bounded with MAXLEN ~. */
  readonly events: string;
  /**
   * Pub/sub channel (not a key): every change is also published here as `<resourceVersion>
   * <type> <object JSON>`, so that watchers are pushed changes as they happen; the stream stays
   * the record they catch up from.
   */
  readonly eventsChannel: string;
  /** Hash: `json` (the node record without operator fields), `bootId`, `sequence`, `unschedulable`, `retiredBootIds`. */
  node(name: string): string;
  /** Sorted set, all scores 0: every node name. */
  readonly nodeNames: string;
  /** String with PX expiry: `<epoch>:<holder>` of the current leader. */
  readonly leaderLease: string;
  /** String counter: the highest leader epoch ever granted (fencing token). */
  readonly leaderEpoch: string;
}

export function storeKeys(prefix: string = keyPrefixDefault): StoreKeys {
  return {
    codespace: (name) => `${prefix}codespace:${name}`,
    codespaceNames: `${prefix}codespaces:names`,
    ownerCodespaces: (owner) => `${prefix}codespaces:owner:${owner}`,
    resourceVersion: `${prefix}codespaces:resource-version`,
    events: `${prefix}codespaces:events`,
    eventsChannel: `${prefix}codespaces:events:live`,
    node: (name) => `${prefix}node:${name}`,
    nodeNames: `${prefix}nodes:names`,
    leaderLease: `${prefix}leader:lease`,
    leaderEpoch: `${prefix}leader:epoch`,
  };
}
