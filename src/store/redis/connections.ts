import { Redis, type RedisOptions } from 'ioredis';

export interface ConnectionOptions {
  url: string;
  connectTimeoutMs: number;
  /** A command without an answer within this is rejected. */
  commandTimeoutMs: number;
  /** Reconnect back-off ceiling. */
  reconnectDelayMaxMs: number;
}

/**
 * The store's connections fail fast instead of queueing or hanging while Redis is away (no
 * offline queue, no retries, a command timeout) and reconnect by themselves.
 */
function openConnection(options: ConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 50, options.reconnectDelayMaxMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A write in flight when the connection drops is not re-sent: its outcome is unknown and the
    // caller decides (every write is compare-and-set, so a retry is safe).
    autoResendUnfulfilledCommands: false,
  };
  const connection = new Redis(options.url, redisOptions);
  connection.on('error', () => {
    // Connection errors surface as STORE_UNAVAILABLE on calls (or a retry of the watch loop);
    // without a listener ioredis would print every failed reconnect.
  });
  return connection;
}

/** The connection for commands and scripts. */
export function openCommandConnection(options: ConnectionOptions): Redis {
  return openConnection(options);
}

/** The one subscriber connection of the watch feed (its commands get the longer timeout). */
export function openWatchConnection(options: ConnectionOptions & { blockMs: number }): Redis {
  return openConnection({ ...options, commandTimeoutMs: options.blockMs + options.commandTimeoutMs });
}
