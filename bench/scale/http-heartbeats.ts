/**
 * Only the HTTP heartbeat measure of `run.ts`, for iterating on the orchestrator's heartbeat path:
 * a private redis-server seeded with a calm fleet (`nodes` × 20 codespaces Running on their nodes),
 * the real orchestrator process, `rounds` beats from each of `nodes` simulated nodes reporting
 * those containers. With BENCH_SUT_CPU_PROF_DIR=<dir> the orchestrator writes a CPU profile there.
 *
 *   npx tsx bench/scale/http-heartbeats.ts [nodes=2000] [rounds=3] [orchestrator log level=info]
 */
import { startRedisServer } from '../../test/support/redis-server.js';
import { httpHeartbeats } from './heartbeat-bench.js';

const orchestratorCpu = 1;
const nodes = Number(process.argv[2] ?? 2_000);
const rounds = Number(process.argv[3] ?? 3);
const logLevel = process.argv[4] ?? 'info';
const redis = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
try {
  const { result, memory, calm } = await httpHeartbeats({
    redisUrl: redis.url,
    cpu: orchestratorCpu,
    nodes,
    rounds,
    logLevel,
  });
  process.stdout.write(`${JSON.stringify({ ...result, memory, calm })}\n`);
} finally {
  await redis.stop();
}
