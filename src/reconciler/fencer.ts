import { isConfirmedTerminated, type FleetProvider } from '../fleet/fleet-provider.js';
import { bounded } from './bounded-call.js';
import type { Clock } from './clock.js';

/** Bound on one fleet call: a slow cloud API must not hold a reconcile pass. */
export const fleetCallTimeoutMsDefault = 10_000;

/**
 * Fence before you move: a silent node may still be serving, so its codespaces move only once
 * the fleet provider has terminated it and `describe` confirms it is gone. Confirmations are kept
 * in memory; a new leader re-confirms (terminate is idempotent) before acting on them.
 */
export class Fencer {
  private readonly fleet: Pick<FleetProvider, 'terminate' | 'describe'>;
  private readonly clock: Clock;
  private readonly callTimeoutMs: number;
  private readonly confirmedAtMs = new Map<string, number>();
  private readonly terminateRequested = new Set<string>();
  private changes = 0;

  constructor(options: {
    fleet: Pick<FleetProvider, 'terminate' | 'describe'>;
    clock: Clock;
    callTimeoutMs?: number;
  }) {
    this.fleet = options.fleet;
    this.clock = options.clock;
    this.callTimeoutMs = options.callTimeoutMs ?? fleetCallTimeoutMsDefault;
  }

  isFenced(nodeName: string): boolean {
    return this.confirmedAtMs.has(nodeName);
  }

  fencedAtMs(nodeName: string): number | undefined {
    return this.confirmedAtMs.get(nodeName);
  }

  fencedNodes(): string[] {
    return [...this.confirmedAtMs.keys()].sort();
  }

  /** Changes whenever the set of fenced nodes does (a cheap check for callers that cache judgements). */
  get version(): number {
    return this.changes;
  }

  /** A node of this name is beating again (a new instance reusing the name): it is no longer fenced. */
  forget(nodeName: string): void {
    if (this.confirmedAtMs.delete(nodeName)) this.changes += 1;
    this.terminateRequested.delete(nodeName);
  }

  /**
   * Asks for termination (once) and checks whether the instance is confirmed gone. True once it
   * is; false while it is still going (call again later). Throws when the fleet does not answer.
   */
  async fence(nodeName: string): Promise<boolean> {
    if (this.confirmedAtMs.has(nodeName)) return true;
    if (!this.terminateRequested.has(nodeName)) {
      await bounded(
        this.clock,
        this.callTimeoutMs,
        `terminate ${nodeName}`,
        () => this.fleet.terminate(nodeName, { decrementDesiredCapacity: false }),
        'FLEET_UNAVAILABLE',
      );
      this.terminateRequested.add(nodeName);
    }
    const description = await bounded(
      this.clock,
      this.callTimeoutMs,
      'describe fleet',
      () => this.fleet.describe(),
      'FLEET_UNAVAILABLE',
    );
    if (!isConfirmedTerminated(description, nodeName)) return false;
    this.confirmedAtMs.set(nodeName, this.clock.nowMs());
    this.changes += 1;
    return true;
  }
}
