import type { Codespace } from './codespace.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change to a codespace; `resourceVersion` is the store-wide version that produced it. */
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly resourceVersion: number;
  readonly object: Codespace;
}
