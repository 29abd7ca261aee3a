/**
 * Continuous checks of what the orchestrator believes about nodes, sampled through its admin API
 * while a heartbeat or clock fault is going on (a level-triggered loop heals ordering bugs fast
 * enough to hide them from end-state checks):
 * - a node's observed state never moves backwards: within one boot the stored sequence never
 *   falls, and a boot the node has left never comes back;
 * - a container seen stopped at generation g is never seen running again at a generation ≤ g;
 * - optionally, nodes that must stay Ready are never judged NotReady.
 * Violations are collected as readable sentences; the scenario fails on any.
 */
import type { NodeRecord } from '../../../src/model/node.js';
import { isReady, type HeartbeatCluster } from './heartbeat-cluster.js';
import type { HeartbeatRelay } from './heartbeat-relay.js';
import { SamplingLoop } from './sampling-loop.js';

export const monitorSampleIntervalMs = 500;

interface NodeMemory {
  bootIds: string[];
  sequence: number;
  /** uid → highest generation at which it was seen stopped. */
  stoppedAt: Map<string, number>;
}

export class ObservedStateMonitor {
  readonly violations: string[] = [];
  checks = 0;
  /** Nodes that must be Ready at every sample (cleared and set by the scenario). */
  readonly mustStayReady = new Set<string>();
  /**
   * Nodes that may go NotReady, but never while beats arrive: judged NotReady although the relay
   * forwarded a beat less than `notReadyAfterMs` before the sample was taken is a violation.
   */
  readonly notReadyOnlyWhenSilent = new Map<string, { relay: HeartbeatRelay; notReadyAfterMs: number }>();
  notReadySamples = 0;
  private readonly memory = new Map<string, NodeMemory>();
  private readonly loop = new SamplingLoop({
    intervalMs: monitorSampleIntervalMs,
    sample: () =>
      this.sampleOnce().catch((error: unknown) => {
        // The API itself failing is not a node fault; the scenario's own waits will say so.
        this.lastError = error;
      }),
  });

  constructor(private readonly cluster: HeartbeatCluster) {}

  start(): void {
    this.loop.start();
  }

  lastError: unknown;

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async sampleOnce(): Promise<void> {
    const answer = await this.cluster.admin.request<{ items: NodeRecord[] }>('GET', '/v1/nodes');
    // The orchestrator judged readiness on its clock before this instant.
    const answeredAtMs = Date.now();
    if (answer.status !== 200) throw new Error(`GET /v1/nodes answered ${answer.status}`);
    this.checks += 1;
    for (const node of answer.body.items) this.check(node);
    for (const [name, { relay, notReadyAfterMs }] of this.notReadyOnlyWhenSilent) {
      const node = answer.body.items.find((n) => n.name === name);
      if (node === undefined || isReady(node)) continue;
      this.notReadySamples += 1;
      const lastForwardedMs = relay.captured.at(-1)?.forwardedAtMs ?? Number.NEGATIVE_INFINITY;
      // NotReady means (its now − last receipt) > limit; its now ≤ answeredAtMs and that receipt ≥
      // the relay's forwarding time, so a correct judgement implies the inequality below.
      if (answeredAtMs - lastForwardedMs <= notReadyAfterMs) {
        this.violations.push(
          `${name} judged NotReady ${answeredAtMs - lastForwardedMs} ms after a beat was forwarded (limit ${notReadyAfterMs} ms)`,
        );
      }
    }
    for (const name of this.mustStayReady) {
      const node = answer.body.items.find((n) => n.name === name);
      if (!isReady(node)) {
        const ready = node?.conditions.find((c) => c.type === 'Ready');
        this.violations.push(`${name} judged NotReady while beating: ${ready?.message ?? 'no record'}`);
      }
    }
  }

  private check(node: NodeRecord): void {
    let memory = this.memory.get(node.name);
    if (!memory) {
      memory = { bootIds: [node.bootId], sequence: node.sequence, stoppedAt: new Map() };
      this.memory.set(node.name, memory);
    }
    const current = memory.bootIds.at(-1);
    if (node.bootId === current) {
      if (node.sequence < memory.sequence)
        this.violations.push(`${node.name}: sequence went back from ${memory.sequence} to ${node.sequence}`);
    } else if (memory.bootIds.includes(node.bootId)) {
      this.violations.push(`${node.name}: observed state went back to an earlier boot ${node.bootId}`);
    } else {
      memory.bootIds.push(node.bootId);
    }
    memory.sequence = node.bootId === current ? Math.max(memory.sequence, node.sequence) : node.sequence;
    for (const container of node.containers) {
      const stoppedAt = memory.stoppedAt.get(container.uid);
      if (container.state === 'exited') {
        memory.stoppedAt.set(container.uid, Math.max(stoppedAt ?? 0, container.generation));
      } else if (
        container.state === 'running' &&
        stoppedAt !== undefined &&
        container.generation <= stoppedAt
      ) {
        this.violations.push(
          `${node.name}: ${container.uid} seen running at generation ${container.generation} after it was seen stopped at ${stoppedAt}`,
        );
      }
    }
  }
}
