import { describe, expect, it } from 'vitest';
import { shouldStopUnassigned } from '../../../src/node-agent/assignments.js';

const now = Date.UTC(2026, 0, 1, 1);
const old = new Date(now - 60_000).toISOString();
const entry = { uid: 'u1', state: 'running' as const, epoch: 3, startedAt: old };
const rule = { assigned: new Set<string>(), responseEpoch: 3, highestEpoch: 3, nowMs: now, graceMs: 30_000 };

describe('shouldStopUnassigned', () => {
  it('stops a running container nobody assigns when the answer is from a current leader', () => {
    expect(shouldStopUnassigned(entry, rule)).toBe(true);
  });
  it('keeps an assigned container', () => {
    expect(shouldStopUnassigned(entry, { ...rule, assigned: new Set(['u1']) })).toBe(false);
  });
  it('ignores an answer from a leader older than the highest epoch seen', () => {
    expect(shouldStopUnassigned(entry, { ...rule, responseEpoch: 2 })).toBe(false);
  });
  it('keeps a container started by a newer leader than the one answering', () => {
    expect(
      shouldStopUnassigned({ ...entry, epoch: 4 }, { ...rule, highestEpoch: 4, responseEpoch: 4 - 1 }),
    ).toBe(false);
  });
  it('keeps a container started within the grace period (command and answer crossed)', () => {
    expect(shouldStopUnassigned({ ...entry, startedAt: new Date(now - 5_000).toISOString() }, rule)).toBe(
      false,
    );
  });
  it('never touches a container that is not running', () => {
    expect(shouldStopUnassigned({ ...entry, state: 'exited' }, rule)).toBe(false);
  });
});
