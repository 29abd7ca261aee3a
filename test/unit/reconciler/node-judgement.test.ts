import { describe, expect, it } from 'vitest';
import { ClusterCache } from '../../../src/reconciler/cluster-cache.js';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { Fencer } from '../../../src/reconciler/fencer.js';
import { NodeJudgement } from '../../../src/reconciler/node-judgement.js';
import { aCodespace, aNode } from '../../support/fixtures.js';

const config = { nodeNotReadyAfterMs: 40_000, nodeLostGraceMs: 120_000 };

function setup() {
  const clock = new SimulatedClock(1_000_000);
  const cache = new ClusterCache();
  // An instance the fleet no longer lists is confirmed gone.
  const fencer = new Fencer({
    clock,
    fleet: {
      terminate: async () => undefined,
      describe: async () => ({ fleet: 'local', minSize: 0, maxSize: 2, desiredCapacity: 1, instances: [] }),
    },
  });
  cache.setNodes([
    aNode({ name: 'n1', lastHeartbeatReceivedMs: clock.nowMs() }),
    aNode({ name: 'n2', lastHeartbeatReceivedMs: clock.nowMs() - 30_000 }),
  ]);
  return { clock, cache, fencer, judgement: new NodeJudgement(cache, fencer, config) };
}

describe('NodeJudgement', () => {
  it('reuses one judgement until a node’s silence crosses a threshold, then judges again', () => {
    const { clock, judgement } = setup();
    const first = judgement.at(clock.nowMs(), 0);
    expect(first.nodes.map((n) => [n.name, n.health])).toEqual([
      ['n1', 'Ready'],
      ['n2', 'Ready'],
    ]);
    clock.advance(9_999);
    expect(judgement.at(clock.nowMs(), 0)).toBe(first);
    clock.advance(1);
    const later = judgement.at(clock.nowMs(), 0);
    expect(later).not.toBe(first);
    expect(later.byName.get('n2')?.health).toBe('NotReady');
    expect([...later.notReady]).toEqual(['n2']);
  });

  it('judges again when the records, the names codespaces refer to, our visibility or the fencer change', async () => {
    const { clock, cache, fencer, judgement } = setup();
    const nowMs = clock.nowMs();
    let last = judgement.at(nowMs, 0);
    cache.setCodespace(aCodespace({ name: 'a', uid: 'ua', nodeName: 'gone', phase: 'Running' }));
    const withGone = judgement.at(nowMs, 0);
    expect(withGone).not.toBe(last);
    // Named by a codespace but unknown to the store: judged by its silence (here Lost: it is fenced
    // before anything on it moves), never simply taken as gone.
    expect(withGone.byName.get('gone')?.health).toBe('Lost');
    expect(withGone.byName.get('gone')?.record).toBeUndefined();
    last = withGone;
    // A codespace on a node that already has a record changes nothing.
    cache.setCodespace(aCodespace({ name: 'b', uid: 'ub', nodeName: 'n1', phase: 'Running' }));
    expect(judgement.at(nowMs, 0)).toBe(last);
    // Blind until now: silence counts from here, so the new judgement holds longer.
    expect(judgement.at(nowMs, nowMs)).not.toBe(last);
    last = judgement.at(nowMs, nowMs);
    expect(await fencer.fence('n2')).toBe(true);
    const fenced = judgement.at(nowMs, nowMs);
    expect(fenced).not.toBe(last);
    expect(fenced.byName.get('n2')?.health).toBe('Fenced');
  });
});
