import { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';
import { pinProcess, systemUnderTestCpu } from './cpu-pinning.js';

/**
 * A private redis-server on a free loopback port, without persistence, pinned to the system
 * under test's core (it is part of what we measure). Stop it with `stop()` (by pid).
 */
export async function startBenchRedis(): Promise<RedisServer> {
  const server = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
  pinProcess(server.pid, systemUnderTestCpu);
  return server;
}
