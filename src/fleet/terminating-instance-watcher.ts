import { silentFleetLogger, type FleetLogger } from './fleet-logger.js';
import type { FleetProvider } from './fleet-provider.js';

export const terminatingPollIntervalMsDefault = 10_000;

export interface TerminatingInstanceWatcherOptions {
  readonly provider: Pick<FleetProvider, 'describe'>;
  /** Usually `TerminationHookHandler.onTerminating`, which runs one drain per node. */
  readonly onTerminating: (nodeName: string) => unknown;
  /** Well below the hook timeout (300 s in the CDK stack). Default 10 s. */
  readonly pollIntervalMs?: number;
  readonly logger?: FleetLogger;
}

/**
 * Finds instances whose termination hook is waiting (`Terminating:Wait` on AWS, the local
 * provider's own hook) by polling `describe()`, and hands each to the drain. Level-triggered:
 * a missed or lost notification is found again on the next pass, and it needs nothing beyond
 * the provider. (The CDK stack also routes lifecycle events to SQS, which a listener could read
 * for lower latency; polling is what runs today — see docs/fleet.md.)
 */
export class TerminatingInstanceWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: TerminatingInstanceWatcherOptions) {}

  /** One pass: the nodes whose hook is pending, each handed to `onTerminating`. */
  async pollOnce(): Promise<string[]> {
    const description = await this.options.provider.describe();
    const pending = description.instances.filter((i) => i.terminationHookPending).map((i) => i.nodeName);
    for (const nodeName of pending) {
      try {
        const result = this.options.onTerminating(nodeName);
        if (result instanceof Promise) result.catch((error) => this.warn(nodeName, error));
      } catch (error) {
        this.warn(nodeName, error);
      }
    }
    return pending;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = async () => {
      try {
        await this.pollOnce();
      } catch (error) {
        (this.options.logger ?? silentFleetLogger).warn(
          { error: String(error) },
          'describing the fleet failed',
        );
      }
      if (this.running)
        this.timer = setTimeout(tick, this.options.pollIntervalMs ?? terminatingPollIntervalMsDefault);
    };
    void tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private warn(nodeName: string, error: unknown): void {
    (this.options.logger ?? silentFleetLogger).warn({ node: nodeName, error: String(error) }, 'drain failed');
  }
}
