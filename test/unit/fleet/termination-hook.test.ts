import { describe, expect, it } from 'vitest';
import type { LifecycleActionStatus, TerminationLifecycle } from '../../../src/fleet/fleet-provider.js';
import {
  handleTermination,
  TerminationHookHandler,
  type NodeDrainer,
} from '../../../src/fleet/termination-hook.js';

/** A node with running codespaces; each stop request takes `stopTakesMs` of simulated time to finish. */
class FakeNode implements NodeDrainer {
  cordoned = false;
  readonly stopRequests: { uid: string; reason: string }[] = [];
  private readonly stoppedAtMs = new Map<string, number>();
  constructor(
    private readonly uids: string[],
    private readonly clock: { nowMs: number },
    private readonly stopTakesMs: number,
  ) {}
  async cordon(): Promise<void> {
    this.cordoned = true;
  }
  async stopCodespacesOn(_node: string, reason: 'NodeTerminating'): Promise<void> {
    for (const uid of this.uids) {
      this.stopRequests.push({ uid, reason });
      if (!this.stoppedAtMs.has(uid)) this.stoppedAtMs.set(uid, this.clock.nowMs + this.stopTakesMs);
    }
  }
  async isDrained(): Promise<boolean> {
    return this.uids.every((uid) => (this.stoppedAtMs.get(uid) ?? Infinity) <= this.clock.nowMs);
  }
}

class FakeLifecycle implements TerminationLifecycle {
  heartbeats: number[] = [];
  completions: string[] = [];
  expireAtMs = Infinity;
  constructor(private readonly clock: { nowMs: number }) {}
  async recordLifecycleActionHeartbeat(): Promise<LifecycleActionStatus> {
    if (this.clock.nowMs >= this.expireAtMs) return 'expired';
    this.heartbeats.push(this.clock.nowMs);
    return 'active';
  }
  async completeLifecycleAction(
    _node: string,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<LifecycleActionStatus> {
    if (this.clock.nowMs >= this.expireAtMs) return 'expired';
    this.completions.push(result);
    return 'completed';
  }
}

function setup(stopTakesMs: number) {
  const clock = { nowMs: 0 };
  const uids = Array.from({ length: 10 }, (_, i) => `uid-${i}`);
  const node = new FakeNode(uids, clock, stopTakesMs);
  const lifecycle = new FakeLifecycle(clock);
  const options = {
    nowMs: () => clock.nowMs,
    sleep: async (ms: number) => {
      clock.nowMs += ms;
    },
    drainPollIntervalMs: 2_000,
    hookHeartbeatIntervalMs: 60_000,
    restopIntervalMs: 30_000,
    drainTimeoutMs: 15 * 60_000,
  };
  return { clock, uids, node, lifecycle, options };
}

describe('handleTermination', () => {
  it('cordons, stops all 10 codespaces with NodeTerminating, heartbeats while waiting and completes once drained', async () => {
    const { node, lifecycle, options, uids } = setup(150_000);
    const outcome = await handleTermination('node-a', { drainer: node, lifecycle }, options);
    expect(outcome).toBe('drained');
    expect(node.cordoned).toBe(true);
    expect(new Set(node.stopRequests.map((r) => r.uid))).toEqual(new Set(uids));
    expect(node.stopRequests.every((r) => r.reason === 'NodeTerminating')).toBe(true);
    // 150 s of draining with a 60 s heartbeat interval: two heartbeats, at 60 s and 120 s.
    expect(lifecycle.heartbeats).toEqual([60_000, 120_000]);
    expect(lifecycle.completions).toEqual(['CONTINUE']);
  });

  it('completes at once without heartbeats when the node is already empty', async () => {
    const { lifecycle, options, clock } = setup(0);
    const empty = new FakeNode([], clock, 0);
    expect(await handleTermination('node-a', { drainer: empty, lifecycle }, options)).toBe('drained');
    expect(lifecycle.heartbeats).toEqual([]);
    expect(lifecycle.completions).toEqual(['CONTINUE']);
  });

  it('stops waiting when the hook has already timed out (heartbeat finds no active action)', async () => {
    const { node, lifecycle, options } = setup(10 * 60_000);
    lifecycle.expireAtMs = 90_000;
    const outcome = await handleTermination('node-a', { drainer: node, lifecycle }, options);
    expect(outcome).toBe('hookExpired');
    expect(lifecycle.heartbeats).toEqual([60_000]);
    expect(lifecycle.completions).toEqual([]);
  });

  it('lets the termination proceed after the drain timeout when codespaces never stop', async () => {
    const { node, lifecycle, options, clock } = setup(Infinity);
    const outcome = await handleTermination(
      'node-a',
      { drainer: node, lifecycle },
      { ...options, drainTimeoutMs: 5 * 60_000 },
    );
    expect(outcome).toBe('drainTimedOut');
    expect(clock.nowMs).toBeGreaterThanOrEqual(5 * 60_000);
    expect(lifecycle.completions).toEqual(['CONTINUE']);
    // Stops are asked again every 30 s in case a command was lost.
    expect(node.stopRequests.length).toBeGreaterThan(10);
  });

  it('reports hookExpired when completing finds the action gone', async () => {
    const { node, lifecycle, options } = setup(30_000);
    lifecycle.expireAtMs = 20_000;
    lifecycle.recordLifecycleActionHeartbeat = async () => 'active';
    expect(await handleTermination('node-a', { drainer: node, lifecycle }, options)).toBe('hookExpired');
  });
});

describe('TerminationHookHandler', () => {
  it('runs one drain per node even when the notification arrives twice', async () => {
    const { node, lifecycle, options } = setup(10_000);
    const handler = new TerminationHookHandler({ drainer: node, lifecycle }, options);
    const first = handler.onTerminating('node-a');
    const second = handler.onTerminating('node-a');
    expect(second).toBe(first);
    expect(handler.draining).toEqual(['node-a']);
    expect(await first).toBe('drained');
    expect(lifecycle.completions).toEqual(['CONTINUE']);
    expect(handler.draining).toEqual([]);
  });
});
