import type { Codespace } from '../model/codespace.js';
import type { ClusterCache } from './cluster-cache.js';

/** A status write on its way to the store, and the planned copy the cache holds meanwhile. */
interface WriteInFlight {
  /** The copy the plan was made from (what the store still holds). */
  readonly original: Codespace;
  /** The planned copy, in the cache so that later placements count the capacity it takes. */
  readonly reservation: Codespace;
  readonly done: Promise<void>;
}

/**
 * The controller's writes in flight, one per codespace at most. Planning and reserving happen
 * in one synchronous step; the compare-and-set write goes out afterwards, and writes of
 * different keys overlap. While a write is in flight its reservation stands in the cache:
 *
 * - a watch event or relist carrying the copy it was planned from must not replace it (that
 *   would give the reserved capacity away before the store answers);
 * - nodes are told only what the store holds (`committed`), never a reservation the store may
 *   still refuse;
 * - when the write fails, the reservation is rolled back, unless a newer copy arrived meanwhile.
 */
export class ReservedWrites {
  private readonly inFlight = new Map<string, WriteInFlight>();

  constructor(private readonly cache: ClusterCache) {}

  /**
   * Resolves once no write of this codespace is in flight (a key plans again only after its last
   * write landed); undefined when none is, so that the caller goes on without yielding — two
   * passes of one key started in the same tick must not both get past this check.
   */
  settled(name: string): Promise<void> | undefined {
    if (!this.inFlight.has(name)) return undefined;
    return (async () => {
      for (let pending = this.inFlight.get(name); pending !== undefined; pending = this.inFlight.get(name)) {
        await pending.done;
      }
    })();
  }

  /**
   * Runs `write` with `reservation` standing in the cache for `original`. Returns what `write`
   * returns; the cache then holds the stored copy (`storedOf` of the result, undefined when the
   * codespace is gone) unless a newer one arrived. When `write` throws, the reservation is
   * rolled back, `afterFailure` runs (still counted as in flight) and the error is rethrown.
   */
  async reserve<T>(options: {
    original: Codespace;
    reservation: Codespace;
    write: () => Promise<T>;
    storedOf: (result: T) => Codespace | undefined;
    afterFailure?: (error: unknown) => Promise<void>;
  }): Promise<T> {
    const { original, reservation } = options;
    const name = original.metadata.name;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    this.inFlight.set(name, { original, reservation, done });
    if (reservation !== original) this.cache.setCodespace(reservation);
    try {
      const result = await options.write();
      const stored = options.storedOf(result);
      if (stored === undefined) {
        this.cache.deleteCodespace(name);
        return result;
      }
      const cached = this.cache.getCodespace(name);
      if (
        cached === reservation ||
        (cached !== undefined &&
          Number(cached.metadata.resourceVersion) < Number(stored.metadata.resourceVersion))
      ) {
        this.cache.setCodespace(stored);
      }
      return result;
    } catch (error) {
      // Nothing was stored: give the reserved capacity back (a newer copy, if one came, stays).
      if (this.cache.getCodespace(name) === reservation) this.cache.setCodespace(original);
      await options.afterFailure?.(error);
      throw error;
    } finally {
      if (this.inFlight.get(name)?.done === done) this.inFlight.delete(name);
      finished();
    }
  }

  /** Whether a watch event at `resourceVersion` is older than a reservation it would replace. */
  shadows(name: string, resourceVersion: number): boolean {
    const pending = this.inFlight.get(name);
    return pending !== undefined && Number(pending.reservation.metadata.resourceVersion) >= resourceVersion;
  }

  /** After a relist: a write still in flight keeps its reservation while the store holds the planned-from copy. */
  restoreAfterRelist(fresh: ReadonlyMap<string, Codespace>): void {
    for (const [name, { reservation }] of this.inFlight) {
      if (fresh.get(name)?.metadata.resourceVersion === reservation.metadata.resourceVersion)
        this.cache.setCodespace(reservation);
    }
  }

  /**
   * `cached` (codespaces from the cache) as the store has them: a reservation is replaced by the
   * copy it was planned from. Planned-from copies of writes in flight are added whatever their
   * node; callers filter by node.
   */
  committed(cached: Codespace[]): Codespace[] {
    if (this.inFlight.size === 0) return cached;
    const committed = cached.filter((c) => this.inFlight.get(c.metadata.name)?.reservation !== c);
    for (const { original, reservation } of this.inFlight.values()) {
      if (this.cache.getCodespace(original.metadata.name) === reservation) committed.push(original);
    }
    return committed;
  }
}
