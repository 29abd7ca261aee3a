import { readFile } from 'node:fs/promises';
import type { ActivityReport } from '../model/agent-protocol.js';
import type { ActivityTracker } from './activity-tracker.js';

export const activityReportTimeoutMs = 2_000;
/** ActivityReport allows at most this many codespaces per report. */
export const activityReportMaxCodespaces = 1_000;

export interface ActivityReporterOptions {
  tracker: ActivityTracker;
  agentUrl: string;
  /** The node-local secret the agent writes; read when first needed, since the agent may start after us. */
  secretFile: string;
  intervalMs: number;
  fetchImpl?: typeof fetch;
  onError?: (error: unknown) => void;
}

/**
 * Posts `lastActivity` to the node agent (`POST /v1/activity`, Bearer <proxy secret>) every
 * `intervalMs` when there is any. An undelivered batch goes back into the tracker, so an agent
 * restart loses no activity and an idle stop is never caused by a failed post.
 */
export class ActivityReporter {
  private timer: NodeJS.Timeout | undefined;
  private secret: string | undefined;
  private inFlight: Promise<boolean> | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ActivityReporterOptions) {
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Sends what the tracker holds now; resolves whether it was delivered (true when there was nothing). */
  flush(): Promise<boolean> {
    this.inFlight ??= this.send().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async send(): Promise<boolean> {
    const batch = this.options.tracker.drain();
    if (batch.size === 0) return true;
    try {
      this.secret ??= (await readFile(this.options.secretFile, 'utf8')).trim();
      const lastActivity: ActivityReport['lastActivity'] = {};
      let count = 0;
      for (const [codespace, atMs] of batch) {
        if (count++ >= activityReportMaxCodespaces) break;
        lastActivity[codespace] = new Date(atMs).toISOString();
      }
      const body: ActivityReport = { lastActivity };
      const response = await this.fetchImpl(`${this.options.agentUrl}/v1/activity`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.secret}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(activityReportTimeoutMs),
      });
      await response.body?.cancel();
      // A rotated secret (agent reinstalled) is re-read on the next attempt.
      if (response.status === 401) this.secret = undefined;
      if (!response.ok) throw new Error(`agent answered ${response.status} to an activity report`);
      if (count > activityReportMaxCodespaces)
        this.options.tracker.restore(new Map([...batch].slice(activityReportMaxCodespaces)));
      return true;
    } catch (error) {
      this.options.tracker.restore(batch);
      this.options.onError?.(error);
      return false;
    }
  }
}
