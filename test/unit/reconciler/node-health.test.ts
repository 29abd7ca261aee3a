import { describe, expect, it } from 'vitest';
import type { FleetDescription, FleetProvider } from '../../../src/fleet/fleet-provider.js';
import { SimulatedClock } from '../../../src/reconciler/clock.js';
import { reconcilerConfigDefaults as config } from '../../../src/reconciler/config.js';
import { Fencer } from '../../../src/reconciler/fencer.js';
import {
  effectiveSilenceMs,
  judgeSilence,
  nodesToFence,
  suspectSelf,
  type JudgedNode,
  type NodeHealth,
} from '../../../src/reconciler/node-health.js';
import { planOrphans } from '../../../src/reconciler/orphans.js';
import { aNode, anObservedContainer } from '../../support/fixtures.js';

describe('node health', () => {
  it('judges a node NotReady, then Lost, by how long it has been silent on our clock', () => {
    expect(judgeSilence(config.nodeNotReadyAfterMs - 1, config)).toBe('Ready');
    expect(judgeSilence(config.nodeNotReadyAfterMs, config)).toBe('NotReady');
    expect(judgeSilence(config.nodeLostGraceMs, config)).toBe('Lost');
  });

  it('does not count our own blind spell against a node', () => {
    // Last beat 10 min ago, but we could not see the store until 5 s ago.
    expect(effectiveSilenceMs({ lastHeartbeatReceivedMs: 0, visibleSinceMs: 595_000, nowMs: 600_000 })).toBe(
      5_000,
    );
    expect(effectiveSilenceMs({ lastHeartbeatReceivedMs: 599_000, visibleSinceMs: 0, nowMs: 600_000 })).toBe(
      1_000,
    );
  });

  it('measures a node the store does not know from when we could last see', () => {
    expect(effectiveSilenceMs({ lastHeartbeatReceivedMs: undefined, visibleSinceMs: 100, nowMs: 600 })).toBe(
      500,
    );
  });

  it('suspects itself when more than the threshold of nodes look dead at once, and fences nobody', () => {
    const nodes = (healths: NodeHealth[]): JudgedNode[] =>
      healths.map((health, i) => ({ name: `n${i}`, health }));
    expect(suspectSelf(['Lost', 'Ready'], 0.55)).toBe(false);
    expect(suspectSelf(['Lost', 'NotReady', 'Ready'], 0.55)).toBe(true);
    expect(nodesToFence(nodes(['Lost', 'Ready', 'Ready']), 0.55)).toEqual(['n0']);
    expect(nodesToFence(nodes(['Lost', 'Lost', 'Ready']), 0.55)).toEqual([]);
    // Nodes already fenced are not part of the judgement.
    expect(nodesToFence(nodes(['Fenced', 'Fenced', 'Lost', 'Ready']), 0.55)).toEqual(['n2']);
  });
});

describe('Fencer', () => {
  function fleetOf(instances: FleetDescription['instances']) {
    const terminated: string[] = [];
    let current = instances;
    const fleet: Pick<FleetProvider, 'terminate' | 'describe'> = {
      terminate: async (name) => {
        terminated.push(name);
      },
      describe: async () => ({
        fleet: 'local',
        minSize: 0,
        maxSize: 10,
        desiredCapacity: 1,
        instances: current,
      }),
    };
    return { fleet, terminated, set: (next: FleetDescription['instances']) => (current = next) };
  }

  it('confirms a node fenced only once the fleet says it is gone', async () => {
    const { fleet, terminated, set } = fleetOf([{ nodeName: 'n1', lifecycle: 'Terminating' }]);
    const fencer = new Fencer({ fleet, clock: new SimulatedClock(0) });
    expect(await fencer.fence('n1')).toBe(false);
    expect(fencer.isFenced('n1')).toBe(false);
    set([{ nodeName: 'n1', lifecycle: 'Terminated' }]);
    expect(await fencer.fence('n1')).toBe(true);
    expect(fencer.isFenced('n1')).toBe(true);
    expect(terminated).toEqual(['n1']);
  });

  it('does not confirm anything when the fleet does not answer', async () => {
    const clock = new SimulatedClock(0);
    const fleet = {
      terminate: () => new Promise<void>(() => {}),
      describe: () => new Promise<FleetDescription>(() => {}),
    };
    const fencer = new Fencer({ fleet, clock, callTimeoutMs: 100 });
    const attempt = fencer.fence('n1');
    clock.advance(100);
    await expect(attempt).rejects.toMatchObject({ code: 'FLEET_UNAVAILABLE' });
    expect(fencer.isFenced('n1')).toBe(false);
  });
});

describe('planOrphans', () => {
  it('removes containers whose codespace no longer exists, only on reachable nodes', () => {
    const record = aNode({
      name: 'n1',
      containers: [anObservedContainer({ uid: 'gone', name: 'old' }), anObservedContainer({ uid: 'kept' })],
    });
    expect(planOrphans({ name: 'n1', health: 'Ready', record }, new Set(['kept']))).toEqual([
      { nodeName: 'n1', uid: 'gone', name: 'old' },
    ]);
    expect(planOrphans({ name: 'n1', health: 'NotReady', record }, new Set(['kept']))).toEqual([]);
  });
});
