import type { Assignment } from '../model/agent-protocol.js';
import type { Codespace } from '../model/codespace.js';
import { CodeyardError } from '../model/errors.js';
import type { NodeRecord } from '../model/node.js';
import { assignmentsOn } from './assignments.js';
import { ClusterCache } from './cluster-cache.js';
import { reconcilerConfigDefaults, type ReconcilerConfig } from './config.js';
import {
  controllerTimingDefaults,
  type ControllerOptions,
  type ControllerTiming,
} from './controller-options.js';
import {
  commitPlannedWrite,
  notLeader,
  plannedWrite,
  sendCommands,
  type ExecutorContext,
  type PlannedWrite,
} from './executor.js';
import { effectiveSilenceMs, suspectSelf, type JudgedNode, type NodeHealth } from './node-health.js';
import { NodeJudgement, type JudgedNodes } from './node-judgement.js';
import { NodeReportDiff } from './node-report-diff.js';
import { OrphanRemovalPacing } from './orphan-removal-pacing.js';
import { planOrphans } from './orphans.js';
import { planCodespace, type Plan } from './plan.js';
import { planFingerprint } from './plan-fingerprint.js';
import { PlanMemo } from './plan-memo.js';
import type { ReconcileResult } from './reconcile-result.js';
import { RelistedCodespaces } from './relisted-codespaces.js';
import { ReservedWrites } from './reserved-writes.js';
import { planInputFor } from './snapshot.js';
import { WorkQueue } from './work-queue.js';

export {
  controllerTimingDefaults,
  type ControllerOptions,
  type ControllerTiming,
} from './controller-options.js';

const codespaceKeyPrefix = 'cs/';
const nodeKeyPrefix = 'node/';
const listPageLimit = 1_000;

/**
 * The reconciler's runner: keeps a cache of codespaces and node reports, turns changes into
 * keys on a work queue, and reconciles each key with the pure planner and the executor. It can
 * be driven step by step (the simulation does) or by its own timers (`start`).
 */
export class Controller {
  readonly queue: WorkQueue;
  private readonly options: ControllerOptions;
  readonly config: ReconcilerConfig;
  private readonly timing: ControllerTiming;
  /** Codespaces and node records, with the indexes that keep one reconcile pass O(nodes). */
  private readonly cache = new ClusterCache();
  private readonly relisted = new RelistedCodespaces();
  private readonly orphanRemovals: OrphanRemovalPacing;
  private synced = false;
  private lastResourceVersion = 0;
  /** When we could last see again (start, leadership, end of a store outage): silence is measured from here at the earliest. */
  private visibleSinceMs: number;
  private lastNodePollOkMs: number | undefined;
  private readonly reports = new NodeReportDiff();
  private readonly lastHealth = new Map<string, NodeHealth>();
  /** Writes in flight and the reservations they hold in the cache. */
  private readonly reserved = new ReservedWrites(this.cache);
  private readonly judgement: NodeJudgement;
  /** Keys whose last plan was empty, and under which inputs: a resync skips them while those hold. */
  private readonly planMemo = new PlanMemo();
  /** Codespace passes answered from `planMemo` (for benchmarks and tests). */
  skippedPasses = 0;
  constructor(options: ControllerOptions) {
    this.options = options;
    this.config = { ...reconcilerConfigDefaults, ...options.config };
    this.timing = { ...controllerTimingDefaults, ...options.timing };
    this.queue = new WorkQueue({ clock: options.clock });
    this.orphanRemovals = new OrphanRemovalPacing(this.timing.orphanRemovalRetryMs);
    this.visibleSinceMs = options.clock.nowMs();
    this.judgement = new NodeJudgement(this.cache, options.fencer, this.config);
  }

  private get executor(): ExecutorContext {
    return {
      store: this.options.store,
      agents: this.options.agents,
      leaderEpoch: this.options.leaderEpoch,
      ...(this.options.onStaleEpoch ? { onStaleEpoch: this.options.onStaleEpoch } : {}),
    };
  }

  /** Leadership gained: grace clocks restart (we have not been watching), and everything is looked at. */
  async onStartedLeading(): Promise<void> {
    this.visibleSinceMs = this.options.clock.nowMs();
    this.lastHealth.clear();
    this.planMemo.clear();
    this.orphanRemovals.clear();
    await this.relist();
    await this.pollNodes();
  }

  /** Reads every codespace (paged) and queues all of them, and any that vanished. */
  async relist(): Promise<void> {
    let fresh: Map<string, Codespace>;
    let resourceVersion: number;
    try {
      ({ codespaces: fresh, resourceVersion } = await this.relisted.readAll(
        this.options.store,
        listPageLimit,
      ));
    } catch (error) {
      this.synced = false;
      throw error;
    }
    const names = new Set([...this.cache.codespaceNames(), ...fresh.keys()]);
    this.cache.replaceCodespaces(fresh);
    this.reserved.restoreAfterRelist(fresh);
    this.synced = true;
    this.lastResourceVersion = resourceVersion;
    for (const name of names) this.queue.add(codespaceKeyPrefix + name);
  }

  /** The store version the cache reflects: a watch from here misses nothing. */
  get resourceVersion(): number {
    return this.lastResourceVersion;
  }

  /** One watch event (from `Store.watchCodespaces`). */
  applyWatchEvent(event: {
    type: 'ADDED' | 'MODIFIED' | 'DELETED';
    resourceVersion: number;
    object: Codespace;
  }): void {
    const name = event.object.metadata.name;
    const cached = this.cache.getCodespace(name);
    // Never step back to an older copy than one we wrote ourselves, nor to the copy a write in
    // flight was planned from (that would give its reserved capacity away before the store answers).
    if (cached !== undefined && Number(cached.metadata.resourceVersion) > event.resourceVersion) return;
    if (this.reserved.shadows(name, event.resourceVersion)) return;
    if (event.type === 'DELETED') this.cache.deleteCodespace(name);
    else this.cache.setCodespace(event.object);
    this.lastResourceVersion = Math.max(this.lastResourceVersion, event.resourceVersion);
    this.queue.add(codespaceKeyPrefix + name);
  }

  /**
   * Reads node records and queues what changed: codespaces whose containers' reports changed,
   * codespaces on nodes whose flags or health changed, and those nodes. A failed read starts a
   * blind spell; the read that ends it restarts every grace clock.
   */
  async pollNodes(): Promise<void> {
    const nowMs = this.options.clock.nowMs();
    let records: NodeRecord[];
    try {
      records = await this.options.store.listNodes();
    } catch (error) {
      throw error instanceof CodeyardError
        ? error
        : new CodeyardError('STORE_UNAVAILABLE', String(error), { cause: error });
    }
    if (this.lastNodePollOkMs === undefined || nowMs - this.lastNodePollOkMs > this.timing.blindAfterMs) {
      this.visibleSinceMs = Math.max(this.visibleSinceMs, nowMs);
    }
    this.lastNodePollOkMs = nowMs;
    const previous = new Set(this.cache.nodeNames());
    this.cache.setNodes(records);
    const touch = (uid: string): void => {
      const codespace = this.cache.codespaceByUid(uid);
      if (codespace !== undefined) this.queue.add(codespaceKeyPrefix + codespace.metadata.name);
    };
    for (const record of records) {
      // A node beating again after it was fenced is a new instance that reuses the name.
      const fencedAt = this.options.fencer.fencedAtMs(record.name);
      if (fencedAt !== undefined && record.lastHeartbeatReceivedMs > fencedAt)
        this.options.fencer.forget(record.name);
      const changes = this.reports.observe(record);
      for (const uid of changes.changedUids) touch(uid);
      if (changes.flagsChanged || !previous.has(record.name)) this.touchNode(record.name);
    }
    for (const name of previous) {
      if (!this.cache.hasNode(name)) {
        this.reports.forget(name);
        this.touchNode(name);
      }
    }
    // Health is judged on our clock: a node going silent changes nothing in the store.
    for (const node of this.judgeNodes()) {
      if (this.lastHealth.get(node.name) !== node.health) {
        this.lastHealth.set(node.name, node.health);
        this.touchNode(node.name);
      }
    }
  }

  /** Queues every codespace (the periodic resync). */
  resync(): void {
    for (const name of this.cache.codespaceNames()) this.queue.add(codespaceKeyPrefix + name);
    for (const name of this.cache.nodeNames()) this.queue.add(nodeKeyPrefix + name);
  }

  /** Every node known to the store or named by a codespace, judged on our own clock. */
  judgeNodes(): JudgedNode[] {
    return [...this.judgedNodes().nodes];
  }

  private judgedNodes(): JudgedNodes {
    return this.judgement.at(this.options.clock.nowMs(), this.visibleSinceMs);
  }

  /** One reconcile pass for one key; the contract of `Reconcile`. */
  async reconcile(key: string): Promise<ReconcileResult> {
    // Keys are dropped while not leading: becoming leader relists and queues everything.
    if (this.options.leaderEpoch() === undefined) return undefined;
    if (key.startsWith(codespaceKeyPrefix))
      return this.reconcileCodespace(key.slice(codespaceKeyPrefix.length));
    if (key.startsWith(nodeKeyPrefix)) return this.reconcileNode(key.slice(nodeKeyPrefix.length));
    return undefined;
  }

  /**
   * Plans and reserves in one synchronous step, so that each placement sees the capacity taken by
   * every earlier one: the planned copy goes into the cache (counted by the node views) before the
   * compare-and-set write is sent, and is rolled back if the store refuses it. Writes of different
   * keys overlap; a key with a write in flight waits for it before planning again. Commands go
   * out only after the store accepted the write.
   */
  private async reconcileCodespace(name: string): Promise<ReconcileResult> {
    const settling = this.reserved.settled(name);
    if (settling !== undefined) await settling;
    const key = codespaceKeyPrefix + name;
    const codespace = this.cache.getCodespace(name);
    if (codespace === undefined) {
      this.planMemo.forget(key);
      return undefined;
    }
    const nowMs = this.options.clock.nowMs();
    const { nodes, byName: nodeMap, notReady } = this.judgedNodes();
    const observed = this.cache.observedFor(codespace.metadata.uid);
    const fingerprint = planFingerprint({
      codespace,
      observed,
      nodes: nodeMap,
      visibleSinceMs: this.visibleSinceMs,
    });
    // Nothing the plan reads changed since it was last planned to nothing: it would be again.
    const skipped = fingerprint === undefined ? undefined : this.planMemo.skip(key, fingerprint, nowMs);
    if (skipped !== undefined) {
      this.skippedPasses += 1;
      return skipped.requeueAfterMs === undefined ? undefined : { requeueAfterMs: skipped.requeueAfterMs };
    }
    const plan = planCodespace(
      planInputFor({
        codespace,
        nodes,
        nodeMap,
        observed,
        nowMs,
        visibleSinceMs: this.visibleSinceMs,
        config: this.config,
        nodeViews: this.cache.placementIndex(),
        notReadyNodeNames: notReady,
      }),
    );
    const write = plannedWrite(codespace, plan);
    this.planMemo.forget(key);
    const current = await this.commit(codespace, write);
    if (current === undefined) return undefined;
    await sendCommands(current, plan, nodeMap, this.executor);
    this.planMemo.record(key, fingerprint, plan, write.kind === 'unchanged', nowMs);
    return requeueOf(plan);
  }

  /**
   * The store half of one pass. Returns the codespace as stored after it, or undefined once
   * finalized. The reservation (the planned copy in the cache) is replaced by what the store
   * returned, or rolled back when the write failed — unless a newer copy arrived meanwhile.
   */
  private async commit(codespace: Codespace, write: PlannedWrite): Promise<Codespace | undefined> {
    if (write.kind === 'unchanged') {
      const outcome = await commitPlannedWrite(codespace, write, this.executor);
      return outcome.kind === 'finalized' ? undefined : outcome.codespace;
    }
    const outcome = await this.reserved.reserve({
      original: codespace,
      reservation: write.kind === 'update' ? write.next : codespace,
      write: () => commitPlannedWrite(codespace, write, this.executor),
      storedOf: (written) => (written.kind === 'finalized' ? undefined : written.codespace),
      afterFailure: async (error) => {
        if (
          error instanceof CodeyardError &&
          (error.code === 'CONFLICT' || error.code === 'CODESPACE_NOT_FOUND')
        ) {
          await this.refresh(codespace.metadata.name);
        }
      },
    });
    return outcome.kind === 'finalized' ? undefined : outcome.codespace;
  }

  private async refresh(name: string): Promise<void> {
    const fresh = await this.options.store.getCodespace(name);
    if (fresh === undefined) this.cache.deleteCodespace(name);
    else this.cache.setCodespace(fresh);
  }

  /**
   * A node's own work: fence it once Lost (unless most nodes look dead, when we suspect
   * ourselves), forget its record once nothing refers to it, and remove orphans on it.
   */
  private async reconcileNode(name: string): Promise<ReconcileResult> {
    const { nodes, byName } = this.judgedNodes();
    const node = byName.get(name);
    if (node === undefined) return undefined;
    if (node.health === 'Lost') {
      if (
        suspectSelf(
          nodes.map((n) => n.health),
          this.config.unhealthyZoneThreshold,
        )
      ) {
        return { requeueAfterMs: this.timing.fenceRetryMs };
      }
      if (this.options.leaderEpoch() === undefined) throw notLeader();
      const confirmed = await this.options.fencer.fence(name);
      if (!confirmed) return { requeueAfterMs: this.timing.fenceRetryMs };
      this.touchNode(name);
      return undefined;
    }
    if (node.health === 'Fenced') {
      const referenced = this.codespacesOn(name);
      for (const codespace of referenced) this.queue.add(codespaceKeyPrefix + codespace.metadata.name);
      if (referenced.length === 0 && node.record !== undefined) {
        await this.options.store.deleteNode(name);
        this.cache.deleteNode(name);
        this.orphanRemovals.forgetNode(name);
        return undefined;
      }
      return referenced.length === 0 ? undefined : { requeueAfterMs: this.timing.fenceRetryMs };
    }
    if (node.health === 'NotReady') {
      const silenceMs = effectiveSilenceMs({
        lastHeartbeatReceivedMs: node.record?.lastHeartbeatReceivedMs,
        visibleSinceMs: this.visibleSinceMs,
        nowMs: this.options.clock.nowMs(),
      });
      return { requeueAfterMs: Math.max(1, this.config.nodeLostGraceMs - silenceMs) };
    }
    if (!this.synced) return undefined;
    // The live set: `planOrphans` reads it synchronously, before the awaits below.
    const existing = this.cache.codespaceUids();
    const epoch = this.options.leaderEpoch();
    if (epoch === undefined) throw notLeader();
    const agentUrl = node.record?.agentUrl;
    if (agentUrl === undefined) return undefined;
    const orphans = planOrphans(node, existing);
    this.orphanRemovals.keepOnly(name, new Set(orphans.map((orphan) => orphan.uid)));
    let waitMs: number | undefined;
    for (const orphan of orphans) {
      const remainingMs = this.orphanRemovals.waitMs(name, orphan.uid, this.options.clock.nowMs());
      if (remainingMs > 0) {
        waitMs = Math.min(waitMs ?? remainingMs, remainingMs);
        continue;
      }
      // Removal deletes the volume: confirm with the store itself that the codespace is gone.
      const stored = await this.options.store.getCodespace(orphan.name);
      if (stored?.metadata.uid === orphan.uid) continue;
      // Recorded before the call: a failed removal is retried no sooner than a sent one.
      this.orphanRemovals.sent(name, orphan.uid, this.options.clock.nowMs());
      await this.options.agents.remove({ nodeName: name, agentUrl, epoch }, orphan.uid);
    }
    // Look again when the first paced removal may be resent, in case the node still reports it.
    return waitMs === undefined ? undefined : { requeueAfterMs: waitMs };
  }

  /**
   * What this node should run, for the heartbeat response: codespaces assigned to it (with the
   * user's wish), and stopped codespaces whose volume it holds (to be kept, not run). Answered
   * only by the leader; a follower answers epoch 0, which a node never acts on.
   */
  assignmentsFor(nodeName: string): { epoch: number; assignments: Assignment[] } {
    const epoch = this.options.leaderEpoch();
    if (epoch === undefined) return { epoch: 0, assignments: [] };
    return { epoch, assignments: assignmentsOn(nodeName, this.committedOn(nodeName)) };
  }

  /**
   * Codespaces assigned to or holding their volume on the node as the store has them: a
   * reservation whose write is still in flight is not the store's yet, and a node must never act
   * on a decision the store may still refuse, so its planned-from copy stands in for it.
   */
  private committedOn(nodeName: string): Codespace[] {
    return this.reserved.committed(this.cache.codespacesAssignedOrHeldOn(nodeName));
  }

  /** The cached codespaces (read-only copies from the store). */
  cachedCodespaces(): readonly Codespace[] {
    return [...this.cache.codespaceValues()];
  }

  private codespacesOn(nodeName: string): Codespace[] {
    return this.cache.codespacesOn(nodeName);
  }

  private touchNode(nodeName: string): void {
    this.queue.add(nodeKeyPrefix + nodeName);
    for (const codespace of this.codespacesOn(nodeName))
      this.queue.add(codespaceKeyPrefix + codespace.metadata.name);
  }
}

function requeueOf(plan: Plan): ReconcileResult {
  return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
}
