import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const keySetRefreshIntervalMsDefault = 60_000;
/** An unknown `kid` triggers at most one fetch per this interval: forged kids cannot make us hammer the orchestrator. */
export const unknownKidRefetchCooldownMs = 5_000;
export const keySetFetchTimeoutMs = 3_000;

export interface CachedKeySetOptions {
  /** The orchestrator's JWKS URL for this node's fleet. */
  url: string;
  /** Where the last good key set is kept, so a restarted node verifies tokens while the orchestrator is away. */
  cacheFile?: string;
  refreshIntervalMs?: number;
  fetchImpl?: typeof fetch;
  nowMs?: () => number;
}

/**
 * Verification keys as a node holds them: fetched from the orchestrator, kept in memory and
 * on disk, refreshed in the background. When the orchestrator is unreachable the last good
 * set keeps working, so existing sessions keep flowing (DESIGN.md: nodes hold only
 * verification keys, looked up only in the cached set).
 */
export class CachedKeySet {
  private keys: JSONWebKeySet = { keys: [] };
  private local: JWTVerifyGetKey = createLocalJWKSet({ keys: [] });
  private lastFetchMs = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly options: Required<Omit<CachedKeySetOptions, 'cacheFile'>> & { cacheFile?: string };

  constructor(options: CachedKeySetOptions) {
    this.options = {
      refreshIntervalMs: keySetRefreshIntervalMsDefault,
      fetchImpl: fetch,
      nowMs: Date.now,
      ...options,
    };
  }

  /** Loads the cached file (if any), then tries one fetch; never throws for an unreachable orchestrator. */
  async start(): Promise<void> {
    if (this.options.cacheFile) {
      try {
        this.install(JSON.parse(await readFile(this.options.cacheFile, 'utf8')) as JSONWebKeySet);
      } catch {
        // No cache yet, or a damaged one: the fetch below replaces it.
      }
    }
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Installs keys directly (tests, or a node configured with static keys). */
  install(keySet: JSONWebKeySet): void {
    if (!Array.isArray(keySet.keys)) return;
    this.keys = { keys: keySet.keys };
    this.local = createLocalJWKSet(this.keys);
  }

  current(): JSONWebKeySet {
    return this.keys;
  }

  /** Fetches the key set; keeps the previous one on any failure. Returns whether it succeeded. */
  async refresh(): Promise<boolean> {
    this.lastFetchMs = this.options.nowMs();
    try {
      const response = await this.options.fetchImpl(this.options.url, {
        signal: AbortSignal.timeout(keySetFetchTimeoutMs),
      });
      if (!response.ok) return false;
      const keySet = (await response.json()) as JSONWebKeySet;
      if (!Array.isArray(keySet.keys) || keySet.keys.length === 0) return false;
      this.install(keySet);
      if (this.options.cacheFile) await this.persist(this.options.cacheFile);
      return true;
    } catch {
      return false;
    }
  }

  /** A jose key resolver: looks only in the cached set; an unknown kid may trigger one rate-limited refresh. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.local(header, token);
    } catch (error) {
      if (this.options.nowMs() - this.lastFetchMs < unknownKidRefetchCooldownMs) throw error;
      await this.refresh();
      return this.local(header, token);
    }
  };

  private async persist(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(this.keys));
    await rename(temporary, path);
  }
}
