import { describe, expect, it } from 'vitest';
import { activityUpdates } from '../../../src/node-agent/observed-view.js';

const now = Date.UTC(2026, 0, 1, 12);
const iso = (ms: number) => new Date(ms).toISOString();

describe('activityUpdates', () => {
  it('credits the running codespace when a stopped one shares its name', () => {
    const entries = [
      { uid: 'new', name: 'cs', state: 'running' as const },
      { uid: 'old', name: 'cs', state: 'exited' as const },
    ];
    expect(activityUpdates(entries, { cs: iso(now - 1000) }, now)).toEqual([
      { uid: 'new', lastActivityAt: iso(now - 1000) },
    ]);
  });

  it('moves activity only forward, clamps the future to now and ignores garbage and unknown names', () => {
    const entries = [{ uid: 'u', name: 'cs', state: 'running' as const, lastActivityAt: iso(now - 5000) }];
    expect(activityUpdates(entries, { cs: iso(now - 9000) }, now)).toEqual([]);
    expect(activityUpdates(entries, { cs: iso(now + 60_000) }, now)).toEqual([
      { uid: 'u', lastActivityAt: iso(now) },
    ]);
    expect(activityUpdates(entries, { cs: 'yesterday', other: iso(now) }, now)).toEqual([]);
  });
});
