import type { Store } from '../store/store.js';
import { bounded } from './bounded-call.js';
import type { Clock } from './clock.js';

/** Lease timing in the spirit of Kubernetes' leader election (15 s / 10 s / 2 s). */
export interface LeaderElectorTiming {
  /** How long the store keeps a lease nobody renews. */
  readonly leaseDurationMs: number;
  /** The leader stops acting this long after its last successful renewal began, by its own clock. */
  readonly renewDeadlineMs: number;
  /** A healthy leader renews this often. */
  readonly renewIntervalMs: number;
  /** Candidates try, and a leader whose renewal failed retries, this often. */
  readonly retryPeriodMs: number;
  /** Every store call is bounded by this, well below the renew deadline. */
  readonly storeCallTimeoutMs: number;
}

export const leaderElectorTimingDefaults: LeaderElectorTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  renewIntervalMs: 5_000,
  retryPeriodMs: 2_000,
  storeCallTimeoutMs: 3_000,
};

export type LeadershipStore = Pick<
  Store,
  'tryAcquireLeadership' | 'renewLeadership' | 'releaseLeadership' | 'raiseEpochAtLeast' | 'listNodes'
>;

export interface LeaderElectorOptions {
  readonly store: LeadershipStore;
  readonly clock: Clock;
  /** Unique per replica (host name plus a random suffix). */
  readonly holder: string;
  readonly timing?: Partial<LeaderElectorTiming>;
  readonly onStartedLeading?: (epoch: number) => void;
  readonly onStoppedLeading?: () => void;
  readonly onError?: (error: unknown) => void;
}

type State =
  { readonly kind: 'follower' } | { readonly kind: 'leader'; readonly epoch: number; renewStartedMs: number };

/**
 * One reconciler at a time, via the store's lease. Election is an optimisation, not the safety
 * net: every reconciler write is fenced by the epoch in the store and every node command by the
 * epoch on the node. What the elector adds is that a leader that cannot renew stops acting on
 * its own monotonic clock at `renewDeadlineMs` after its last renewal began — before the lease
 * (`leaseDurationMs`, measured by the store from a later instant) can pass to anyone else.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions;
  private readonly timing: LeaderElectorTiming;
  private state: State = { kind: 'follower' };
  private cancelTimer: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private staleEpochReported = false;

  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.timing = { ...leaderElectorTimingDefaults, ...options.timing };
    if (this.timing.renewDeadlineMs >= this.timing.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
    if (this.timing.storeCallTimeoutMs >= this.timing.renewDeadlineMs) {
      throw new Error('storeCallTimeoutMs must be shorter than renewDeadlineMs');
    }
  }

  /** The epoch to act under, or undefined. Judged on our own clock each time it is asked. */
  epochIfLeading(): number | undefined {
    const state = this.state;
    if (state.kind !== 'leader') return undefined;
    if (this.options.clock.monotonicMs() >= state.renewStartedMs + this.timing.renewDeadlineMs) {
      this.stepDown();
      return undefined;
    }
    return state.epoch;
  }

  /** A node refused a command as from an older epoch: check the nodes' epochs at the next tick, now. */
  reportStaleEpoch(): void {
    this.staleEpochReported = true;
    if (this.running) this.schedule(0);
  }

  /** One step of the election; returns how long to wait before the next. Drives tests and the simulation. */
  async tick(): Promise<number> {
    try {
      return this.epochIfLeading() === undefined ? await this.tryToLead() : await this.renew();
    } catch (error) {
      this.options.onError?.(error);
      return this.timing.retryPeriodMs;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops electing; a leader releases its lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    await this.ticking;
    const state = this.state;
    if (state.kind !== 'leader') return;
    this.stepDown();
    await this.call('releaseLeadership', () =>
      this.options.store.releaseLeadership({ holder: this.options.holder, epoch: state.epoch }),
    ).catch((error: unknown) => this.options.onError?.(error));
  }

  private schedule(delayMs: number): void {
    this.cancelTimer?.();
    this.cancelTimer = this.options.clock.setTimer(delayMs, () => {
      if (!this.running) return;
      this.ticking = this.tick().then((next) => {
        this.ticking = undefined;
        if (this.running) this.schedule(next);
      });
    });
  }

  private async tryToLead(): Promise<number> {
    const startedMs = this.options.clock.monotonicMs();
    const result = await this.call('tryAcquireLeadership', () =>
      this.options.store.tryAcquireLeadership({
        holder: this.options.holder,
        leaseDurationMs: this.timing.leaseDurationMs,
      }),
    );
    if (!result.acquired) return this.timing.retryPeriodMs;
    if (await this.raisedPastNodes(result.epoch)) return 0;
    this.state = { kind: 'leader', epoch: result.epoch, renewStartedMs: startedMs };
    this.watchDeadline(startedMs);
    this.options.onStartedLeading?.(result.epoch);
    return this.timing.renewIntervalMs;
  }

  private async renew(): Promise<number> {
    const state = this.state;
    if (state.kind !== 'leader') return 0;
    if (this.staleEpochReported && (await this.raisedPastNodes(state.epoch))) {
      this.stepDown();
      return 0;
    }
    const startedMs = this.options.clock.monotonicMs();
    let renewed: boolean;
    try {
      renewed = await this.call('renewLeadership', () =>
        this.options.store.renewLeadership({
          holder: this.options.holder,
          epoch: state.epoch,
          leaseDurationMs: this.timing.leaseDurationMs,
        }),
      );
    } catch (error) {
      // Keep acting until our own deadline; retry sooner than the usual interval.
      this.options.onError?.(error);
      return this.timing.retryPeriodMs;
    }
    if (!renewed) {
      this.stepDown();
      return this.timing.retryPeriodMs;
    }
    if (this.state === state) {
      state.renewStartedMs = startedMs;
      this.watchDeadline(startedMs);
    }
    return this.timing.renewIntervalMs;
  }

  /**
   * After a store loss the epoch counter restarts below what nodes have accepted, and every
   * command would be refused. Nodes report the highest epoch they have seen; raise the counter
   * to it so that the next acquisition gets a higher one. True when the counter was raised.
   */
  private async raisedPastNodes(epoch: number): Promise<boolean> {
    this.staleEpochReported = false;
    const nodes = await this.call('listNodes', () => this.options.store.listNodes());
    const highest = nodes.reduce((max, n) => Math.max(max, n.highestEpoch), 0);
    if (highest <= epoch) return false;
    await this.call('raiseEpochAtLeast', () => this.options.store.raiseEpochAtLeast(highest));
    return true;
  }

  /** Tells `onStoppedLeading` on time even if nobody asks `epochIfLeading` meanwhile. */
  private watchDeadline(renewStartedMs: number): void {
    this.cancelDeadline?.();
    const delayMs = renewStartedMs + this.timing.renewDeadlineMs - this.options.clock.monotonicMs();
    this.cancelDeadline = this.options.clock.setTimer(delayMs, () => {
      this.epochIfLeading();
    });
  }

  private stepDown(): void {
    if (this.state.kind !== 'leader') return;
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.state = { kind: 'follower' };
    this.options.onStoppedLeading?.();
  }

  private call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return bounded(this.options.clock, this.timing.storeCallTimeoutMs, what, call);
  }
}
