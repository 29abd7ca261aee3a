import type { Codespace } from '../model/codespace.js';
import type { Store } from '../store/store.js';

/**
 * The codespaces of the last relist, by the JSON they were parsed from. A relist of a calm
 * cluster reads 40,000 objects that have not changed since the previous one: finding the stored
 * JSON among the strings parsed last time (a hash and a memory compare, several times cheaper than
 * a parse) and handing back the same object skips the parse, and lets the cluster cache see by
 * identity that nothing changed (no re-index).
 *
 * Keyed by the whole JSON, not the name: the list hands out strings, and equal JSON means an
 * equal object, so reuse is exact. Objects handed out are shared with the cache and must not be
 * mutated (as every cached codespace). Memory: one string per codespace, held until the next relist.
 */
export class RelistedCodespaces {
  private previous = new Map<string, Codespace>();
  private next = new Map<string, Codespace>();

  /** Starts a relist: entries not seen again by `finish` are forgotten. */
  begin(): void {
    this.next = new Map();
  }

  /** The object for this stored JSON: last relist's when the JSON is the same, else parsed. */
  parse(json: string): Codespace {
    const codespace = this.previous.get(json) ?? (JSON.parse(json) as Codespace);
    this.next.set(json, codespace);
    return codespace;
  }

  /** Ends a relist that read every page. */
  finish(): void {
    this.previous = this.next;
    this.next = new Map();
  }

  /** A relist that failed part-way: keep what the previous one saw, drop the partial read. */
  abandon(): void {
    this.next = new Map();
  }

  /**
   * Reads every codespace from the store, page by page, through `parse`; a failed read abandons
   * the relist and rethrows. The stored JSON rather than parsed copies: an object whose JSON is
   * unchanged since the last relist is reused as it is.
   */
  async readAll(
    store: Pick<Store, 'listCodespaceJson'>,
    pageLimit: number,
  ): Promise<{ codespaces: Map<string, Codespace>; resourceVersion: number }> {
    const codespaces = new Map<string, Codespace>();
    let continueAfter: string | undefined;
    let resourceVersion = 0;
    this.begin();
    try {
      do {
        const page = await store.listCodespaceJson({
          limit: pageLimit,
          ...(continueAfter === undefined ? {} : { continueAfter }),
        });
        if (resourceVersion === 0) resourceVersion = page.resourceVersion;
        for (const json of page.items) {
          const item = this.parse(json);
          codespaces.set(item.metadata.name, item);
        }
        continueAfter = page.continueAfter;
      } while (continueAfter !== undefined);
    } catch (error) {
      this.abandon();
      throw error;
    }
    this.finish();
    return { codespaces, resourceVersion };
  }

  get size(): number {
    return this.previous.size;
  }
}
