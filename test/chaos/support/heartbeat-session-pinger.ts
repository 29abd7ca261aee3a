/**
 * A user's session kept busy through a node proxy while the control plane (or the node's link to
 * it) is disturbed: one request every `sessionPingIntervalMs`, each answer that is not the
 * workspace's own 200 recorded with its time. Node-level scenarios judge sessions by it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxySession } from '../../support/e2e-api.js';

export const sessionPingIntervalMs = 500;

export interface PingFailure {
  readonly atMs: number;
  readonly what: string;
}

export class SessionPinger {
  readonly failures: PingFailure[] = [];
  answered = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly codespace: string,
    private readonly session: ProxySession,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const answer = await this.session.fetch('/healthz');
          if (answer.status === 200) this.answered += 1;
          else this.failures.push({ atMs: Date.now(), what: `HTTP ${answer.status}` });
        } catch (error) {
          this.failures.push({ atMs: Date.now(), what: String(error) });
        }
        await sleep(sessionPingIntervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  failuresBefore(atMs: number): PingFailure[] {
    return this.failures.filter((f) => f.atMs < atMs);
  }
}
