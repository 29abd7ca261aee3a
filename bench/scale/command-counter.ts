import type { Redis } from 'ioredis';
import type { RedisStore } from '../../src/store/redis/redis-store.js';

/**
 * Counts the commands the store sends to Redis by wrapping its ioredis connection's
 * `sendCommand` (every command, script call and pipelined command passes through it; no
 * MONITOR needed). A pipeline is one round trip for many commands, so `pipeline().exec()` is
 * wrapped too: commands sent while it runs count as pipelined, and each exec as one round trip.
 * (`INFO commandstats` would count every client of the server, including the fake agents.)
 */
export class CommandCounter {
  commands = 0;
  pipelines = 0;
  pipelinedCommands = 0;
  readonly byName = new Map<string, number>();

  constructor(store: RedisStore) {
    // The connection is private to the store; the benchmark reaches in to count, never to send.
    const redis = (store as unknown as { redis: Redis }).redis;
    const send = redis.sendCommand.bind(redis);
    let building = 0;
    redis.sendCommand = ((command: { name: string }, stream?: unknown) => {
      this.commands += 1;
      if (building > 0) this.pipelinedCommands += 1;
      this.byName.set(command.name, (this.byName.get(command.name) ?? 0) + 1);
      return send(command as never, stream as never);
    }) as typeof redis.sendCommand;
    const pipeline = redis.pipeline.bind(redis);
    redis.pipeline = ((...args: unknown[]) => {
      const built = pipeline(...(args as []));
      const exec = built.exec.bind(built);
      built.exec = ((...execArgs: unknown[]) => {
        this.pipelines += 1;
        building += 1;
        try {
          return exec(...(execArgs as []));
        } finally {
          building -= 1;
        }
      }) as typeof built.exec;
      return built;
    }) as typeof redis.pipeline;
  }

  /** Round trips: every plain command is one; a pipeline's commands share one. */
  get roundTrips(): number {
    return this.commands - this.pipelinedCommands + this.pipelines;
  }

  /**
   * Round trips of the runner's once-a-second node read (`ZRANGE` of the node names, then one
   * pipeline of `HMGET`s), which runs beside placements but is not part of any one of them.
   */
  get nodePollRoundTrips(): number {
    return (this.byName.get('zrange') ?? 0) + this.pipelines;
  }

  snapshot(): { commands: number; roundTrips: number; nodePollRoundTrips: number } {
    return {
      commands: this.commands,
      roundTrips: this.roundTrips,
      nodePollRoundTrips: this.nodePollRoundTrips,
    };
  }
}
