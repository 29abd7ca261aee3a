import { describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../../src/model/node.js';
import { waitForNodeHeartbeats } from '../../../src/platform/wait-for-nodes.js';

function storeWith(beats: () => number[]): { listNodes(): Promise<NodeRecord[]> } {
  return {
    listNodes: async () =>
      beats().map(
        (lastHeartbeatReceivedMs, i) => ({ name: `local-${i + 1}`, lastHeartbeatReceivedMs }) as NodeRecord,
      ),
  };
}

describe('waitForNodeHeartbeats', () => {
  it('resolves true once enough nodes have beaten since the fleet started', async () => {
    let calls = 0;
    const store = storeWith(() => (++calls < 3 ? [] : [1_000, 1_001]));
    await expect(waitForNodeHeartbeats(store, { count: 2, sinceMs: 1_000, timeoutMs: 5_000 })).resolves.toBe(
      true,
    );
    expect(calls).toBe(3);
  });

  it('does not count a node whose last beat is older than the fleet start', async () => {
    const store = storeWith(() => [999]);
    await expect(waitForNodeHeartbeats(store, { count: 1, sinceMs: 1_000, timeoutMs: 300 })).resolves.toBe(
      false,
    );
  });

  it('is satisfied at once when no nodes were asked for', async () => {
    await expect(
      waitForNodeHeartbeats(
        storeWith(() => []),
        { count: 0, sinceMs: 0, timeoutMs: 0 },
      ),
    ).resolves.toBe(true);
  });
});
