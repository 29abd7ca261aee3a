import { describe, expect, it } from 'vitest';
import { markedForDeletion, wasEverPlaced } from '../../../src/store/deletion.js';
import { matchesLabels } from '../../../src/store/label-selector.js';
import { isStaleBeat, nodeRecordFromHeartbeat } from '../../../src/store/node-record.js';
import { aCodespace, aHeartbeat } from '../../support/fixtures.js';

describe('store rules', () => {
  it('treats a codespace with a node or a volume node as placed', () => {
    expect(wasEverPlaced(aCodespace())).toBe(false);
    expect(wasEverPlaced(aCodespace({ nodeName: 'n1' }))).toBe(true);
    expect(wasEverPlaced(aCodespace({ volumeNodeName: 'n1' }))).toBe(true);
  });

  it('marks for deletion without changing the spec or the node', () => {
    const codespace = aCodespace({ nodeName: 'n1', phase: 'Running' });
    const marked = markedForDeletion(codespace, '2026-01-01T00:00:00.000Z');
    expect(marked.metadata.deletionTimestamp).toBe('2026-01-01T00:00:00.000Z');
    expect(marked.status).toMatchObject({ phase: 'Deleting', nodeName: 'n1' });
    expect(marked.spec).toEqual(codespace.spec);
    expect(codespace.status.phase).toBe('Running');
  });

  it('matches a label selector only when every key has exactly that value', () => {
    expect(matchesLabels({ app: 'web', team: 'core' }, undefined)).toBe(true);
    expect(matchesLabels({ app: 'web', team: 'core' }, {})).toBe(true);
    expect(matchesLabels({ app: 'web', team: 'core' }, { app: 'web' })).toBe(true);
    expect(matchesLabels({ app: 'web' }, { app: 'web', team: 'core' })).toBe(false);
    expect(matchesLabels({ app: 'web' }, { app: 'db' })).toBe(false);
  });

  it('judges a beat stale only within the same boot', () => {
    const beat = aHeartbeat({ bootId: 'b1', sequence: 5 });
    expect(isStaleBeat(undefined, beat)).toBe(false);
    expect(isStaleBeat({ bootId: 'b1', sequence: 5 }, beat)).toBe(true);
    expect(isStaleBeat({ bootId: 'b1', sequence: 4 }, beat)).toBe(false);
    expect(isStaleBeat({ bootId: 'b0', sequence: 99 }, beat)).toBe(false);
  });

  it('builds a node record on the orchestrator clock, keeping the operator field it is given', () => {
    const beat = aHeartbeat({ nodeName: 'n1', ready: false });
    const node = nodeRecordFromHeartbeat(beat, { receivedAtMs: 5000, unschedulable: true });
    expect(node).toMatchObject({
      name: 'n1',
      ready: false,
      unschedulable: true,
      lastHeartbeatReceivedMs: 5000,
      lastHeartbeatTime: new Date(5000).toISOString(),
    });
  });
});
