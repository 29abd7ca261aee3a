import type { Codespace } from '../model/codespace.js';

/** What a codespace asks of a node. */
export interface PlacementRequest {
  readonly uid: string;
  readonly resources: { readonly cpu: number; readonly memoryMiB: number };
  /** The node that holds this codespace's volume (`status.volumeNodeName`), if any. */
  readonly volumeNodeName?: string | undefined;
}

/** The request for a stored codespace: its uid, its cpu and memory, and where its volume is. */
export function placementRequestFor(
  codespace: Pick<Codespace, 'metadata' | 'spec' | 'status'>,
): PlacementRequest {
  return {
    uid: codespace.metadata.uid,
    resources: { cpu: codespace.spec.resources.cpu, memoryMiB: codespace.spec.resources.memoryMiB },
    volumeNodeName: codespace.status.volumeNodeName,
  };
}
