import { describe, expect, it } from 'vitest';
import {
  deletingDeadlineMs,
  phaseDeadlineMs,
  restartBackoffBaseMs,
  restartBackoffMaxMs,
  restartBackoffMs,
  scheduledDeadlineMs,
  startingDeadlineMs,
  stoppingDeadlineMs,
} from '../../../src/state-machines/index.js';

describe('phaseDeadlineMs', () => {
  it('gives every transient phase its deadline and the others none', () => {
    expect(phaseDeadlineMs('Scheduled')).toBe(scheduledDeadlineMs);
    expect(phaseDeadlineMs('Starting')).toBe(startingDeadlineMs);
    expect(phaseDeadlineMs('Stopping')).toBe(stoppingDeadlineMs);
    expect(phaseDeadlineMs('Deleting')).toBe(deletingDeadlineMs);
    for (const phase of ['Pending', 'Running', 'Stopped', 'Failed'] as const)
      expect(phaseDeadlineMs(phase)).toBeUndefined();
  });
});

describe('restartBackoffMs', () => {
  it('is zero before any crash', () => {
    expect(restartBackoffMs(0)).toBe(0);
  });

  it('doubles from the base with each crash', () => {
    expect([1, 2, 3, 4, 5].map((n) => restartBackoffMs(n))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000,
    ]);
    expect(restartBackoffMs(1)).toBe(restartBackoffBaseMs);
  });

  it('caps at the maximum, even for absurd counts', () => {
    expect(restartBackoffMs(6)).toBe(restartBackoffMaxMs);
    expect(restartBackoffMs(1000)).toBe(restartBackoffMaxMs);
    expect(restartBackoffMs(Number.MAX_SAFE_INTEGER)).toBe(restartBackoffMaxMs);
  });

  it('never decreases as crashes add up', () => {
    for (let n = 0; n < 40; n += 1)
      expect(restartBackoffMs(n + 1)).toBeGreaterThanOrEqual(restartBackoffMs(n));
  });
});
