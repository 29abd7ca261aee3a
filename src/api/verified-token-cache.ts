import { LruCache } from '../shared/lru-cache.js';
import type { Principal } from './principal.js';

/** Verified API tokens remembered at once, at most; the least recently used is forgotten first. */
export const verifiedTokensMax = 10_000;

interface Entry {
  principal: Principal;
  expiresAtMs: number;
  /** The verification keys the token was checked against (the key ring's array, by identity). */
  keys: readonly unknown[];
}

/**
 * Principals of API tokens that passed verification, by the exact token string, until the
 * token's `exp`. Verifying an EdDSA signature (and importing the key set) is most of the CPU an
 * authenticated call costs, and a client sends the same token on every call. An entry counts
 * only while the key ring is the one it was verified against: a rotation that drops a key
 * drops what that key vouched for. Only tokens that verified are stored, so garbage cannot
 * evict good entries faster than real clients add them.
 */
export class VerifiedTokenCache {
  private readonly entries: LruCache<string, Entry>;

  constructor(options: { capacity?: number } = {}) {
    this.entries = new LruCache(options.capacity ?? verifiedTokensMax);
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(credential: string, options: { keys: readonly unknown[]; nowMs: number }): Principal | undefined {
    const entry = this.entries.get(credential);
    if (entry === undefined) return undefined;
    if (entry.keys !== options.keys || options.nowMs >= entry.expiresAtMs) {
      this.entries.delete(credential);
      return undefined;
    }
    return entry.principal;
  }

  remember(credential: string, entry: Entry): void {
    this.entries.set(credential, entry);
  }
}
