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

describe('RelistedCodespaces.readAll', () => {
  /** A store listing `count` codespaces, `failOnPage` (if any) failing, pages of `limit`. */
  function pagedStore(count: number, options: { failOnPage?: number } = {}) {
    const all = Array.from({ length: count }, (_, i) => `cs-${String(i).padStart(4, '0')}`);
    const pages: string[] = [];
    return {
      pages,
      listCodespaceJson: async ({ limit, continueAfter }: { limit: number; continueAfter?: string }) => {
        pages.push(continueAfter ?? '');
        if (options.failOnPage === pages.length) throw new Error('store unavailable');
        const start = continueAfter === undefined ? 0 : all.indexOf(continueAfter) + 1;
        const names = all.slice(start, start + limit);
        const codespace = fixtures.get('web')!;
        return {
          resourceVersion: 42 + pages.length,
          items: names.map((name) =>
            JSON.stringify({ ...codespace, metadata: { ...codespace.metadata, name, resourceVersion: '1' } }),
          ),
          ...(start + limit < all.length ? { continueAfter: names.at(-1)! } : {}),
        };
      },
    };
  }

  it('reads every page and reports the version of the first', async () => {
    const store = pagedStore(2_500);
    const relisted = new RelistedCodespaces();
    const { codespaces, resourceVersion } = await relisted.readAll(store, 1_000);
    expect(store.pages).toEqual(['', 'cs-0999', 'cs-1999']);
    expect(codespaces.size).toBe(2_500);
    expect(codespaces.get('cs-2499')?.metadata.name).toBe('cs-2499');
    expect(resourceVersion).toBe(43);
    expect(relisted.size).toBe(2_500);
  });

  it('keeps what the previous relist saw when a page fails, and rethrows', async () => {
    const relisted = new RelistedCodespaces();
    const first = await relisted.readAll(pagedStore(1_500), 1_000);
    await expect(relisted.readAll(pagedStore(1_500, { failOnPage: 2 }), 1_000)).rejects.toThrow(
      'store unavailable',
    );
    expect(relisted.size).toBe(1_500);
    const again = await relisted.readAll(pagedStore(1_500), 1_000);
    expect(again.codespaces.get('cs-0000')).toBe(first.codespaces.get('cs-0000'));
  });
});
