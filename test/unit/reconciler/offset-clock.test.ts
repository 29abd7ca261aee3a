import { describe, expect, it } from 'vitest';
import { offsetClock, SimulatedClock } from '../../../src/reconciler/clock.js';
import { loadOrchestratorConfig } from '../../../src/orchestrator/config.js';

describe('offsetClock (test-only skew)', () => {
  it('shifts the wall clock only: the monotonic reading and timers keep their pace', () => {
    const base = new SimulatedClock(1_000_000);
    const skewed = offsetClock(base, -120_000);
    expect(skewed.nowMs()).toBe(880_000);
    expect(skewed.monotonicMs()).toBe(base.monotonicMs());
    let fired = false;
    skewed.setTimer(500, () => (fired = true));
    base.advance(499);
    expect(fired).toBe(false);
    base.advance(1);
    expect(fired).toBe(true);
    expect(skewed.nowMs()).toBe(1_000_500 - 120_000);
  });

  it('is the clock itself without an offset', () => {
    const base = new SimulatedClock(5);
    expect(offsetClock(base, 0)).toBe(base);
  });
});

describe('orchestrator clock offset setting', () => {
  it('is absent unless set, reads a signed value, and refuses one beyond a day', () => {
    expect(loadOrchestratorConfig({}).clockOffsetMs).toBeUndefined();
    expect(loadOrchestratorConfig({ CODEYARD_CLOCK_OFFSET_MS: '-90000' }).clockOffsetMs).toBe(-90_000);
    expect(() => loadOrchestratorConfig({ CODEYARD_CLOCK_OFFSET_MS: '999999999' })).toThrow(
      /CODEYARD_CLOCK_OFFSET_MS/,
    );
  });
});
