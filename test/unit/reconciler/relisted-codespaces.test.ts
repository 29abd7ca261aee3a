import { describe, expect, it } from 'vitest';
import { RelistedCodespaces } from '../../../src/reconciler/relisted-codespaces.js';
import { aCodespace } from '../../support/fixtures.js';

const fixtures = new Map(['web', 'api'].map((name) => [name, aCodespace({ name })]));

/** The JSON a store would hold for the fixture `name` at `resourceVersion` (same input, same string). */
function jsonOf(name: string, resourceVersion: string): string {
  const codespace = fixtures.get(name)!;
  return JSON.stringify({ ...codespace, metadata: { ...codespace.metadata, resourceVersion } });
}

describe('RelistedCodespaces', () => {
  it('hands back the object of the previous relist when the stored JSON is unchanged', () => {
    const relisted = new RelistedCodespaces();
    relisted.begin();
    const first = relisted.parse(jsonOf('web', '7'));
    relisted.finish();
    relisted.begin();
    const second = relisted.parse(jsonOf('web', '7'));
    relisted.finish();
    expect(second).toBe(first);
  });

  it('parses a changed JSON afresh', () => {
    const relisted = new RelistedCodespaces();
    relisted.begin();
    const first = relisted.parse(jsonOf('web', '7'));
    relisted.finish();
    relisted.begin();
    const second = relisted.parse(jsonOf('web', '8'));
    relisted.finish();
    expect(second).not.toBe(first);
    expect(second.metadata.resourceVersion).toBe('8');
  });

  it('forgets codespaces the last relist did not see', () => {
    const relisted = new RelistedCodespaces();
    relisted.begin();
    const first = relisted.parse(jsonOf('web', '7'));
    relisted.parse(jsonOf('api', '3'));
    relisted.finish();
    relisted.begin();
    relisted.parse(jsonOf('api', '3'));
    relisted.finish();
    expect(relisted.size).toBe(1);
    relisted.begin();
    expect(relisted.parse(jsonOf('web', '7'))).not.toBe(first);
  });

  it('keeps the previous relist when one fails part-way', () => {
    const relisted = new RelistedCodespaces();
    relisted.begin();
    const first = relisted.parse(jsonOf('web', '7'));
    relisted.finish();
    relisted.begin();
    relisted.parse(jsonOf('api', '3'));
    relisted.abandon();
    relisted.begin();
    expect(relisted.parse(jsonOf('web', '7'))).toBe(first);
  });
});
