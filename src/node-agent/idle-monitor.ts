import type { Logger } from 'pino';
import type { KvCodespaceEntry } from './local-kv-format.js';
import type { NodeAgent } from './node-agent.js';

export const idleCheckIntervalMsDefault = 15_000;

export interface IdleSubject {
  state: KvCodespaceEntry['state'];
  startedAt?: string;
  lastActivityAt?: string;
  idleTimeoutSeconds?: number;
}

export interface IdlePolicy {
  /** How long one second of `idleTimeoutSeconds` lasts: 1000 in production; tests shrink it. */
  msPerIdleSecond: number;
}

/**
 * Pure: whether a workspace has been without a person's activity for longer than its timeout.
 * The start time counts as activity, so a workspace nobody opened still gets its full timeout.
 * Without a known timeout or any time to measure from, nothing is stopped.
 */
export function isIdlePastTimeout(subject: IdleSubject, nowMs: number, policy: IdlePolicy): boolean {
  if (subject.state !== 'running' || subject.idleTimeoutSeconds === undefined) return false;
  const candidates = [subject.startedAt, subject.lastActivityAt]
    .map((iso) => (iso === undefined ? Number.NaN : Date.parse(iso)))
    .filter((ms) => !Number.isNaN(ms));
  if (candidates.length === 0) return false;
  const lastActiveMs = Math.max(...candidates);
  return nowMs - lastActiveMs > subject.idleTimeoutSeconds * policy.msPerIdleSecond;
}

export interface IdleMonitorOptions {
  agent: NodeAgent;
  logger: Logger;
  intervalMs?: number;
  policy: IdlePolicy;
  nowMs?: () => number;
}

/**
 * Stops workspaces idle past their timeout, on the node's own clock and without asking the
 * orchestrator (it may be unreachable); the stop reason `Idle` goes out with the next heartbeat.
 */
export class IdleMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: IdleMonitorOptions) {}

  start(): void {
    this.timer = setInterval(
      () => void this.checkOnce(),
      this.options.intervalMs ?? idleCheckIntervalMsDefault,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass; overlapping calls share the pass in flight. */
  checkOnce(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const now = this.options.nowMs ?? Date.now;
    const idle = (entry: IdleSubject) => isIdlePastTimeout(entry, now(), this.options.policy);
    for (const entry of this.options.agent.entries()) {
      if (!idle(entry)) continue;
      try {
        if (await this.options.agent.stopIfStill(entry.uid, 'Idle', idle)) {
          this.options.logger.info(
            { uid: entry.uid, codespace: entry.name, lastActivityAt: entry.lastActivityAt },
            'stopped idle workspace',
          );
        }
      } catch (error) {
        this.options.logger.error({ err: error, uid: entry.uid }, 'idle stop failed; will retry');
      }
    }
  }
}
