/**
 * A user's session kept busy through a node proxy while the control plane (or the node's link to
 * it) is disturbed: one request every `sessionPingIntervalMs`, each answer that is not the
 * workspace's own 200 recorded with its time. Node-level scenarios judge sessions by it.
 */
import type { ProxySession } from '../../support/e2e-api.js';
import { SamplingLoop } from './sampling-loop.js';

export const sessionPingIntervalMs = 500;

export interface PingFailure {
  readonly atMs: number;
  readonly what: string;
}

export class SessionPinger {
  readonly failures: PingFailure[] = [];
  answered = 0;
  private readonly loop = new SamplingLoop({
    intervalMs: sessionPingIntervalMs,
    sample: () => this.pingOnce(),
  });

  constructor(
    readonly codespace: string,
    private readonly session: ProxySession,
  ) {}

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async pingOnce(): Promise<void> {
    try {
      const answer = await this.session.fetch('/healthz');
      if (answer.status === 200) this.answered += 1;
      else this.failures.push({ atMs: Date.now(), what: `HTTP ${answer.status}` });
    } catch (error) {
      this.failures.push({ atMs: Date.now(), what: String(error) });
    }
  }

  failuresBefore(atMs: number): PingFailure[] {
    return this.failures.filter((f) => f.atMs < atMs);
  }
}
