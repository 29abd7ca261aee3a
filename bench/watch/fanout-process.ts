/**
 * The system under test of the store-level fan-out benchmark, one process per mode (see
 * `protocol.ts`), started pinned to its core by `run.ts`. Each phase: attach N watchers, record
 * every delivery's latency and order, report `complete` when all have everything, `stats` on stop.
 */
import { Redis } from 'ioredis';
import type { Codespace } from '../../src/model/codespace.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { WatchSubscription } from '../../src/store/store.js';
import { LatencyHistogram } from '../lib/latency-histogram.js';
import { monotonicMicros, sleep } from '../lib/monotonic-clock.js';
import { DeliveryLedger, ledgerTotals } from './delivery-ledger.js';
import { baselineChannel, type CoordinatorMessage, type FanoutMessage, type FanoutMode } from './protocol.js';

/** Time for the watchers' first `next()` to attach to the live feed before the writer starts. */
const attachSettleMs = 500;
/** A watcher cut off more often than this in one phase gives up (the phase then reports losses). */
const resumesPerWatcherMax = 100;

interface Phase {
  histogram: LatencyHistogram;
  ledgers: DeliveryLedger[];
  expectedDeliveries: number;
  deliveries: number;
  completeSent: boolean;
  resumes: number;
  teardown: () => Promise<void>;
}

const mode = process.env.BENCH_FANOUT_MODE as FanoutMode;
const redisUrl = process.env.BENCH_REDIS_URL ?? '';
let current: Phase | undefined;

function send(message: FanoutMessage): void {
  process.send?.(message);
}

function deliver(
  phase: Phase,
  ledger: DeliveryLedger,
  labels: Readonly<Record<string, string>>,
  order: number,
): void {
  ledger.record(Number(labels.seq), order, Number(labels.sent), monotonicMicros());
  phase.deliveries += 1;
  if (!phase.completeSent && phase.deliveries >= phase.expectedDeliveries) {
    phase.completeSent = true;
    send({ kind: 'complete' });
  }
}

function newPhase(watchers: number, events: number): Phase {
  const histogram = new LatencyHistogram();
  return {
    histogram,
    ledgers: Array.from({ length: watchers }, () => new DeliveryLedger(histogram, events)),
    expectedDeliveries: watchers * events,
    deliveries: 0,
    completeSent: false,
    resumes: 0,
    teardown: async () => {},
  };
}

let store: RedisStore | undefined;

async function startStorePhase(phase: Phase): Promise<void> {
  store ??= await RedisStore.connect({ url: redisUrl });
  const from = await store.currentResourceVersion();
  const subscriptions = new Set<WatchSubscription>();
  let stopped = false;
  const follow = (ledger: DeliveryLedger): void => {
    let last = from;
    let attempts = 0;
    // Exactly what an in-process consumer does: subscribe from the last version seen (the push
    // API: a synchronous callback per ready run, the same shape as the baseline's listeners) and
    // subscribe again when cut off.
    const subscribe = (): void => {
      const subscription = store!.subscribeCodespaceEvents({
        fromResourceVersion: last,
        onEvents: (events) => {
          for (const event of events) {
            if (event.resourceVersion <= last) {
              // The Store contract: every event after fromResourceVersion, in order, once. Say so loudly.
              process.stderr.write(
                `store watch delivered version ${event.resourceVersion} after ${last} (watch from ${from})\n`,
              );
            }
            last = event.resourceVersion;
            deliver(phase, ledger, event.object.metadata.labels, event.resourceVersion);
          }
        },
        onEnd: (error) => {
          subscriptions.delete(subscription);
          if (error !== undefined) process.stderr.write(`store watch failed: ${String(error)}\n`);
          if (stopped || attempts >= resumesPerWatcherMax) return;
          attempts += 1;
          phase.resumes += 1;
          subscribe();
        },
      });
      subscriptions.add(subscription);
    };
    subscribe();
  };
  phase.ledgers.forEach(follow);
  phase.teardown = async () => {
    stopped = true;
    for (const subscription of subscriptions) subscription.close();
    subscriptions.clear();
  };
}

let subscriber: Redis | undefined;
let listeners: ((codespace: Codespace) => void)[] = [];

async function startPubsubPhase(phase: Phase): Promise<void> {
  if (subscriber === undefined) {
    subscriber = new Redis(redisUrl);
    // One subscription per process, parsed once, handed to every in-process listener.
    subscriber.on('message', (_channel: string, message: string) => {
      const codespace = JSON.parse(message) as Codespace;
      for (const listener of listeners) listener(codespace);
    });
    await subscriber.subscribe(baselineChannel);
  }
  listeners = phase.ledgers.map(
    (ledger) => (codespace: Codespace) =>
      // One connection publishes in `seq` order and Redis delivers in publish order.
      deliver(phase, ledger, codespace.metadata.labels, Number(codespace.metadata.labels.seq)),
  );
  phase.teardown = async () => {
    listeners = [];
  };
}

async function startNaivePubsubPhase(phase: Phase): Promise<void> {
  const connections = phase.ledgers.map((ledger) => {
    const connection = new Redis(redisUrl);
    connection.on('message', (_channel: string, message: string) => {
      const labels = (JSON.parse(message) as Codespace).metadata.labels;
      deliver(phase, ledger, labels, Number(labels.seq));
    });
    return connection;
  });
  await Promise.all(connections.map((connection) => connection.subscribe(baselineChannel)));
  phase.teardown = async () => {
    connections.forEach((connection) => connection.disconnect());
  };
}

const starters: Record<FanoutMode, (phase: Phase) => Promise<void>> = {
  store: startStorePhase,
  pubsub: startPubsubPhase,
  'naive-pubsub': startNaivePubsubPhase,
};

async function onMessage(message: CoordinatorMessage): Promise<void> {
  if (message.kind === 'start') {
    const phase = newPhase(message.watchers, message.events);
    current = phase;
    await starters[mode](phase);
    await sleep(attachSettleMs);
    send({ kind: 'ready' });
    return;
  }
  const phase = current;
  if (phase === undefined) return;
  current = undefined;
  await phase.teardown();
  send({
    kind: 'stats',
    histogram: phase.histogram.snapshot(),
    totals: ledgerTotals(phase.ledgers),
    resumes: phase.resumes,
  });
}

if (!(mode in starters) || redisUrl === '') {
  process.stderr.write(
    'fanout-process: set BENCH_FANOUT_MODE (store|pubsub|naive-pubsub) and BENCH_REDIS_URL\n',
  );
  process.exit(2);
}
process.on('message', (message: CoordinatorMessage) => {
  onMessage(message).catch((error: unknown) => {
    process.stderr.write(`fanout-process (${mode}) failed: ${String(error)}\n`);
    process.exit(1);
  });
});
process.once('SIGTERM', () => {
  void (async () => {
    await current?.teardown();
    subscriber?.disconnect();
    await store?.close();
    process.exit(0);
  })();
});
// The coordinator went away (crashed or was interrupted): never outlive it.
process.once('disconnect', () => process.exit(0));
