import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectiveSilenceMs, judgeSilence, nextJudgementChangeMs } from '../../src/reconciler/node-health.js';

const configArb = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 60_000 }))
  .map(([notReady, extra]) => ({ nodeNotReadyAfterMs: notReady, nodeLostGraceMs: notReady + extra }));

const silenceArb = fc.record({
  lastHeartbeatReceivedMs: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
  visibleSinceMs: fc.integer({ min: 0, max: 200_000 }),
  nowMs: fc.integer({ min: 0, max: 200_000 }),
});

describe('nextJudgementChangeMs', () => {
  it('lies after now, the judgement holds until then, and changes exactly then', () => {
    fc.assert(
      fc.property(configArb, silenceArb, fc.integer({ min: 0, max: 200_000 }), (config, silence, stepMs) => {
        const judgeAt = (nowMs: number) => judgeSilence(effectiveSilenceMs({ ...silence, nowMs }), config);
        const nextMs = nextJudgementChangeMs(silence, config);
        expect(nextMs).toBeGreaterThan(silence.nowMs);
        const laterMs = silence.nowMs + stepMs;
        if (laterMs < nextMs) expect(judgeAt(laterMs)).toBe(judgeAt(silence.nowMs));
        if (Number.isFinite(nextMs)) expect(judgeAt(nextMs)).not.toBe(judgeAt(nextMs - 1));
      }),
      { numRuns: 2_000 },
    );
  });

  it('is infinite once the node is Lost', () => {
    const config = { nodeNotReadyAfterMs: 10_000, nodeLostGraceMs: 40_000 };
    expect(
      nextJudgementChangeMs({ lastHeartbeatReceivedMs: 0, visibleSinceMs: 0, nowMs: 40_000 }, config),
    ).toBe(Number.POSITIVE_INFINITY);
    expect(
      nextJudgementChangeMs({ lastHeartbeatReceivedMs: 0, visibleSinceMs: 0, nowMs: 39_999 }, config),
    ).toBe(40_000);
  });
});
