/**
 * Watches a cluster once a second while an end-to-end test runs: Docker's containers (by their
 * labels), the codespaces' phases through the API and the fleet's size. It records what must
 * never happen (two containers for one codespace uid, more live nodes than the fleet's maximum)
 * and what must happen at least once (each codespace seen Running).
 */
import type { Codespace } from '../../src/model/codespace.js';
import type { LocalFleetProvider } from '../../src/fleet/local/local-fleet-provider.js';
import type { ApiClient } from './e2e-api.js';
import type { E2eDocker } from './e2e-docker.js';

export const sampleIntervalMs = 1_000;

export interface SamplerOptions {
  readonly docker: E2eDocker;
  readonly nodePrefix: string;
  readonly admin: ApiClient;
  readonly fleet: LocalFleetProvider;
}

export class ClusterSampler {
  readonly violations: string[] = [];
  /** uid → name, for every codespace seen Running at least once. */
  readonly seenRunning = new Map<string, string>();
  readonly failed = new Map<string, string>();
  maxLiveNodes = 0;
  samples = 0;
  readonly sampleErrors: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: SamplerOptions) {}

  start(): void {
    const tick = () => {
      this.inFlight = this.sampleOnce().catch((error: unknown) => {
        // A sample that failed (an API call timed out under load) is skipped, not a violation.
        this.sampleErrors.push(String(error));
      });
      void this.inFlight.then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, sampleIntervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  async sampleOnce(): Promise<void> {
    const [containers, codespaces, fleet] = await Promise.all([
      this.options.docker.containers(this.options.nodePrefix),
      this.options.admin.list(),
      this.options.fleet.describe(),
    ]);
    this.samples += 1;
    const perUid = new Map<string, string[]>();
    for (const c of containers) perUid.set(c.uid, [...(perUid.get(c.uid) ?? []), c.node]);
    for (const [uid, nodes] of perUid) {
      if (nodes.length > 1)
        this.violations.push(`uid ${uid} has ${nodes.length} containers on ${nodes.join(', ')}`);
    }
    const live = fleet.instances.filter(
      (i) => i.lifecycle === 'Pending' || i.lifecycle === 'InService',
    ).length;
    this.maxLiveNodes = Math.max(this.maxLiveNodes, live);
    if (live > fleet.maxSize) this.violations.push(`${live} live nodes, above the maximum ${fleet.maxSize}`);
    for (const codespace of codespaces) this.noteCodespace(codespace);
  }

  private noteCodespace(codespace: Codespace): void {
    const { uid, name } = codespace.metadata;
    if (codespace.status.phase === 'Running') this.seenRunning.set(uid, name);
    if (codespace.status.phase === 'Failed') {
      const reasons = codespace.status.conditions.map((c) => `${c.type}=${c.reason}`).join(',');
      this.failed.set(uid, `${name}: ${reasons}`);
    }
  }
}
