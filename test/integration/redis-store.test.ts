import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { storeContract } from '../unit/store/store-contract.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

describe('RedisStore on a real redis-server', () => {
  // Each store gets its own key prefix: tests share one server but never each other's keys.
  storeContract('RedisStore', (options) =>
    RedisStore.connect({ url: server.url, keyPrefix: `test-${randomUUID()}:`, ...options }),
  );
});
