import type { Codespace } from '../model/codespace.js';

/**
 * A codespace that never reached a node has nothing to clean up (no container, no volume), so a
 * delete removes it at once; otherwise the reconciler must clean up first.
 */
export function wasEverPlaced(codespace: Codespace): boolean {
  return codespace.status.nodeName !== undefined || codespace.status.volumeNodeName !== undefined;
}

/** The first phase of a two-phase delete: mark it, and let the reconciler do the rest. */
export function markedForDeletion(codespace: Codespace, now: string): Codespace {
  return {
    ...codespace,
    metadata: { ...codespace.metadata, deletionTimestamp: now },
    status: { ...codespace.status, phase: 'Deleting' },
  };
}
