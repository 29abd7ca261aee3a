import type { ClusterCache } from './cluster-cache.js';
import type { ReconcilerConfig } from './config.js';
import type { Fencer } from './fencer.js';
import { effectiveSilenceMs, judgeSilence, nextJudgementChangeMs, type JudgedNode } from './node-health.js';

/** Every known node judged at one instant, with the lookups a planning pass needs. */
export interface JudgedNodes {
  readonly nodes: readonly JudgedNode[];
  readonly byName: ReadonlyMap<string, JudgedNode>;
  /** Names of the nodes judged anything but Ready. */
  readonly notReady: ReadonlySet<string>;
}

interface CachedJudgement extends JudgedNodes {
  readonly visibleSinceMs: number;
  readonly nodesVersion: number;
  readonly fencerVersion: number;
  /** The judgement holds for clock readings in [fromMs, untilMs). */
  readonly fromMs: number;
  readonly untilMs: number;
}

/**
 * Judges every node known to the cache (Ready, NotReady, Lost, Fenced) on the orchestrator's own
 * clock, and reuses the judgement across keys: health depends on the records, the names
 * codespaces refer to, when we could last see, the fencer, and the clock, so a judgement stands
 * while the first three are unchanged and the clock has not reached the first instant at which
 * some node's silence crosses a threshold (typically until the next node poll). Judging 2,000
 * nodes per key would otherwise dominate every pass.
 */
export class NodeJudgement {
  private last: CachedJudgement | undefined;

  constructor(
    private readonly cache: ClusterCache,
    private readonly fencer: Fencer,
    private readonly config: Pick<ReconcilerConfig, 'nodeNotReadyAfterMs' | 'nodeLostGraceMs'>,
  ) {}

  at(nowMs: number, visibleSinceMs: number): JudgedNodes {
    const last = this.last;
    if (
      last !== undefined &&
      last.visibleSinceMs === visibleSinceMs &&
      last.nodesVersion === this.cache.nodesVersion &&
      last.fencerVersion === this.fencer.version &&
      nowMs >= last.fromMs &&
      nowMs < last.untilMs
    )
      return last;
    let untilMs = Number.POSITIVE_INFINITY;
    const nodes = this.cache.knownNodeNames().map((name): JudgedNode => {
      const record = this.cache.getNode(name);
      if (this.fencer.isFenced(name)) return { name, health: 'Fenced', record };
      const silence = { lastHeartbeatReceivedMs: record?.lastHeartbeatReceivedMs, visibleSinceMs, nowMs };
      untilMs = Math.min(untilMs, nextJudgementChangeMs(silence, this.config));
      return { name, health: judgeSilence(effectiveSilenceMs(silence), this.config), record };
    });
    this.last = {
      visibleSinceMs,
      nodesVersion: this.cache.nodesVersion,
      fencerVersion: this.fencer.version,
      fromMs: nowMs,
      untilMs,
      nodes,
      byName: new Map(nodes.map((n) => [n.name, n])),
      notReady: new Set(nodes.filter((n) => n.health !== 'Ready').map((n) => n.name)),
    };
    return this.last;
  }
}
