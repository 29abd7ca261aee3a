import { MemoryStore } from '../store/memory/memory-store.js';
import { RedisStore } from '../store/redis/redis-store.js';
import type { Store } from '../store/store.js';
import type { OrchestratorConfig } from './config.js';

/** Redis when `redisUrl` is set (every replica shares it); otherwise the embedded in-memory store. */
export async function createStore(config: OrchestratorConfig): Promise<Store> {
  if (config.redisUrl === undefined) return new MemoryStore();
  return RedisStore.connect({ url: config.redisUrl });
}
