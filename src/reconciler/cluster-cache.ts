import type { Codespace } from '../model/codespace.js';
import type { NodeRecord } from '../model/node.js';
import { nodeViewOf, sameFootprint, type NodeView } from '../placement/node-view.js';
import { PlacementIndex } from '../placement/placement-index.js';
import type { ObservedOnNode } from './plan.js';

/**
 * The controller's cache of codespaces and node records, with the indexes its per-key work
 * needs kept up to date as entries change, so that one reconcile pass costs O(nodes) rather than
 * O(codespaces + nodes) (a full pass would otherwise be quadratic in the number of codespaces).
 *
 * - Codespace indexes (`nodeName`, `volumeNodeName`, uid) change on every `setCodespace` /
 *   `deleteCodespace` / `replaceCodespaces`.
 * - Node indexes (which nodes report a uid, every observed copy of a uid) are rebuilt when the
 *   node records change (`setNodes`, once per node poll, and `deleteNode`).
 * - Placement's node views are kept per node and recomputed only for nodes whose inputs changed:
 *   the node's record, a codespace assigned to it, or a codespace whose container it reports.
 *   They follow exactly `nodeViewsFrom`'s counting rules (both use `nodeViewOf`), and feed a
 *   `PlacementIndex` so that a placement does not scan every node.
 *
 * Codespace uids are assumed unique (the store assigns them).
 */
export class ClusterCache {
  private readonly codespaces = new Map<string, Codespace>();
  private readonly byUid = new Map<string, Codespace>();
  private readonly uids = new Set<string>();
  /** nodeName → names of the codespaces whose `status.nodeName` is that node. */
  private readonly assignedTo = new Map<string, Set<string>>();
  /** nodeName → names of the codespaces whose `status.volumeNodeName` is that node. */
  private readonly volumeOn = new Map<string, Set<string>>();
  private nodes = new Map<string, NodeRecord>();
  /** uid → nodes reporting a container with that uid (any state). */
  private reportedOn = new Map<string, Set<string>>();
  /** uid → every reported copy, nodes in name order; undefined when the node records changed. */
  private observedByUid: Map<string, ObservedOnNode[]> | undefined;
  private sortedRecordNames: string[] | undefined;
  private sortedNodeNames: string[] | undefined;
  private readonly views = new Map<string, NodeView>();
  private readonly staleViews = new Set<string>();
  /** `views` indexed for placement; created on first use, then kept up to date. */
  private placement: PlacementIndex | undefined;
  private nodeSetVersion = 0;

  // --- codespaces ---

  getCodespace(name: string): Codespace | undefined {
    return this.codespaces.get(name);
  }

  codespaceByUid(uid: string): Codespace | undefined {
    return this.byUid.get(uid);
  }

  codespaceNames(): IterableIterator<string> {
    return this.codespaces.keys();
  }

  codespaceValues(): IterableIterator<Codespace> {
    return this.codespaces.values();
  }

  /** Uids of every cached codespace: a live view, not a copy (do not keep it across awaits). */
  codespaceUids(): ReadonlySet<string> {
    return this.uids;
  }

  setCodespace(codespace: Codespace): void {
    const name = codespace.metadata.name;
    const previous = this.codespaces.get(name);
    if (previous !== undefined && sameFootprint(previous, codespace)) {
      // Every index and node view stays as it is (each placement writes its codespace twice:
      // the reservation, then the stored copy); only the objects they lead to are swapped.
      this.codespaces.set(name, codespace);
      if (this.byUid.get(codespace.metadata.uid) === previous)
        this.byUid.set(codespace.metadata.uid, codespace);
      return;
    }
    if (previous !== undefined) this.unindex(previous);
    this.codespaces.set(name, codespace);
    this.index(codespace);
  }

  deleteCodespace(name: string): void {
    const previous = this.codespaces.get(name);
    if (previous === undefined) return;
    this.unindex(previous);
    this.codespaces.delete(name);
  }

  /**
   * Replaces every cached codespace (a relist). Only entries that changed are re-indexed: the
   * relist hands back the cached object itself for a codespace whose stored JSON did not change,
   * so a relist of a calm cluster leaves every index and node view as it was.
   */
  replaceCodespaces(fresh: ReadonlyMap<string, Codespace>): void {
    for (const name of [...this.codespaces.keys()]) {
      if (!fresh.has(name)) this.deleteCodespace(name);
    }
    for (const [name, codespace] of fresh) {
      if (this.codespaces.get(name) !== codespace) this.setCodespace(codespace);
    }
  }

  /** Codespaces assigned to the node or holding their volume on it. */
  codespacesAssignedOrHeldOn(nodeName: string): Codespace[] {
    const names = new Set([...(this.assignedTo.get(nodeName) ?? []), ...(this.volumeOn.get(nodeName) ?? [])]);
    return [...names].map((name) => this.codespaces.get(name)).filter((c): c is Codespace => c !== undefined);
  }

  /** Codespaces assigned to the node, holding their volume on it, or whose container it reports. */
  codespacesOn(nodeName: string): Codespace[] {
    const found = new Map<string, Codespace>();
    for (const codespace of this.codespacesAssignedOrHeldOn(nodeName)) {
      found.set(codespace.metadata.name, codespace);
    }
    for (const container of this.nodes.get(nodeName)?.containers ?? []) {
      const codespace = this.byUid.get(container.uid);
      if (codespace !== undefined) found.set(codespace.metadata.name, codespace);
    }
    return [...found.values()];
  }

  // --- nodes ---

  getNode(name: string): NodeRecord | undefined {
    return this.nodes.get(name);
  }

  hasNode(name: string): boolean {
    return this.nodes.has(name);
  }

  nodeNames(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /**
   * Replaces every node record (a node poll). The store hands back the same object for a record
   * that did not change, so only the views of nodes whose record is new, replaced or gone are
   * recomputed (most nodes did not beat since the last poll a second ago).
   */
  setNodes(records: readonly NodeRecord[]): void {
    const previous = this.nodes;
    this.nodes = new Map(records.map((r) => [r.name, r]));
    let changed = previous.size !== this.nodes.size;
    for (const [name, record] of this.nodes) {
      if (previous.get(name) === record) continue;
      changed = true;
      this.staleView(name);
    }
    for (const name of previous.keys()) {
      if (this.nodes.has(name)) continue;
      changed = true;
      this.staleView(name);
    }
    if (changed) this.nodeRecordsChanged();
  }

  deleteNode(name: string): void {
    if (!this.nodes.delete(name)) return;
    this.nodeRecordsChanged();
    this.staleView(name);
  }

  /**
   * Changes whenever the node records or the set of node names codespaces refer to change:
   * while it stays the same, so do `knownNodeNames()` and every node's record.
   */
  get nodesVersion(): number {
    return this.nodeSetVersion;
  }

  /** Every node known to the store or named by a codespace (assigned or holding its volume), sorted. */
  knownNodeNames(): readonly string[] {
    if (this.sortedNodeNames === undefined) {
      const names = new Set(this.nodes.keys());
      for (const name of this.assignedTo.keys()) names.add(name);
      for (const name of this.volumeOn.keys()) names.add(name);
      this.sortedNodeNames = [...names].sort();
    }
    return this.sortedNodeNames;
  }

  /** Every container with this uid on every node, nodes in name order (as `observedFor`). */
  observedFor(uid: string): ObservedOnNode[] {
    if (this.observedByUid === undefined) {
      const observed = new Map<string, ObservedOnNode[]>();
      for (const name of this.recordNames()) {
        const record = this.nodes.get(name)!;
        for (const container of record.containers) {
          const entry = { nodeName: name, container, observedAtMs: record.lastHeartbeatReceivedMs };
          const list = observed.get(container.uid);
          if (list === undefined) observed.set(container.uid, [entry]);
          else list.push(entry);
        }
      }
      this.observedByUid = observed;
    }
    return [...(this.observedByUid.get(uid) ?? [])];
  }

  /**
   * Placement's view of every node with a record (equal to `nodeViewsFrom` over the cache),
   * indexed for placement: answers without a scan of every node per placement. A live object: it
   * changes with the cache, so use it synchronously.
   */
  placementIndex(): PlacementIndex {
    this.refreshViews();
    this.placement ??= PlacementIndex.of([...this.views.values()]);
    return this.placement;
  }

  /** Recomputes the views whose inputs changed (one per placement; the nodes that beat, per poll). */
  private refreshViews(): void {
    if (this.staleViews.size === 0) return;
    for (const name of this.staleViews) {
      const record = this.nodes.get(name);
      if (record === undefined) {
        this.views.delete(name);
        this.placement?.delete(name);
        continue;
      }
      const view = nodeViewOf(
        record,
        this.assignedCodespaces(name),
        (uid) => this.byUid.get(uid)?.spec.resources,
      );
      this.views.set(name, view);
      this.placement?.set(view);
    }
    this.staleViews.clear();
  }

  private assignedCodespaces(nodeName: string): Codespace[] {
    const assigned: Codespace[] = [];
    for (const name of this.assignedTo.get(nodeName) ?? []) {
      const codespace = this.codespaces.get(name);
      if (codespace !== undefined) assigned.push(codespace);
    }
    return assigned;
  }

  private recordNames(): readonly string[] {
    this.sortedRecordNames ??= [...this.nodes.keys()].sort();
    return this.sortedRecordNames;
  }

  private nodeRecordsChanged(): void {
    this.nodeSetVersion += 1;
    this.sortedRecordNames = undefined;
    this.sortedNodeNames = undefined;
    this.observedByUid = undefined;
    const reportedOn = new Map<string, Set<string>>();
    for (const record of this.nodes.values()) {
      for (const container of record.containers) {
        const set = reportedOn.get(container.uid);
        if (set === undefined) reportedOn.set(container.uid, new Set([record.name]));
        else set.add(record.name);
      }
    }
    this.reportedOn = reportedOn;
  }

  private index(codespace: Codespace): void {
    const { nodeName, volumeNodeName } = codespace.status;
    const name = codespace.metadata.name;
    this.byUid.set(codespace.metadata.uid, codespace);
    this.uids.add(codespace.metadata.uid);
    if (nodeName !== undefined) this.addTo(this.assignedTo, nodeName, name);
    if (volumeNodeName !== undefined) this.addTo(this.volumeOn, volumeNodeName, name);
    this.staleViewsOf(codespace);
  }

  private unindex(codespace: Codespace): void {
    const { nodeName, volumeNodeName } = codespace.status;
    const name = codespace.metadata.name;
    if (this.byUid.get(codespace.metadata.uid) === codespace) {
      this.byUid.delete(codespace.metadata.uid);
      this.uids.delete(codespace.metadata.uid);
    }
    if (nodeName !== undefined) this.removeFrom(this.assignedTo, nodeName, name);
    if (volumeNodeName !== undefined) this.removeFrom(this.volumeOn, volumeNodeName, name);
    this.staleViewsOf(codespace);
  }

  /** The node views this codespace counts in: its node's, and those of nodes reporting its container. */
  private staleViewsOf(codespace: Codespace): void {
    if (codespace.status.nodeName !== undefined) this.staleView(codespace.status.nodeName);
    for (const nodeName of this.reportedOn.get(codespace.metadata.uid) ?? []) this.staleView(nodeName);
  }

  private staleView(nodeName: string): void {
    this.staleViews.add(nodeName);
  }

  private addTo(index: Map<string, Set<string>>, nodeName: string, name: string): void {
    const set = index.get(nodeName);
    if (set !== undefined) {
      set.add(name);
      return;
    }
    const known = this.isKnownNodeName(nodeName);
    index.set(nodeName, new Set([name]));
    // Only a name new to `knownNodeNames` changes the node set: the first codespace placed on a
    // node that already has a record must not make every key judge every node again.
    if (!known) this.nodeNamesChanged();
  }

  private removeFrom(index: Map<string, Set<string>>, nodeName: string, name: string): void {
    const set = index.get(nodeName);
    if (set === undefined) return;
    set.delete(name);
    if (set.size > 0) return;
    index.delete(nodeName);
    if (!this.isKnownNodeName(nodeName)) this.nodeNamesChanged();
  }

  private isKnownNodeName(nodeName: string): boolean {
    return this.nodes.has(nodeName) || this.assignedTo.has(nodeName) || this.volumeOn.has(nodeName);
  }

  private nodeNamesChanged(): void {
    this.sortedNodeNames = undefined;
    this.nodeSetVersion += 1;
  }
}
