import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { HeartbeatResponse } from '../model/agent-protocol.js';
import type { Heartbeat } from '../model/node.js';

export const heartbeatIntervalMsDefault = 5_000;
/** ±20%: a fleet that restarted together does not beat in lockstep. */
export const heartbeatJitterRatio = 0.2;
/** After a change the beat goes at once, but never closer than this to the previous one. */
export const heartbeatMinGapMs = 200;
export const heartbeatBackoffBaseMs = 250;
export const heartbeatRequestTimeoutMs = 5_000;

export interface HeartbeatClientOptions {
  /** e.g. http://127.0.0.1:8420 */
  orchestratorUrl: string;
  nodeName: string;
  joinSecret: string;
  intervalMs?: number;
  /** Builds the full observed state; `sequence` is filled in by the client. */
  build: () => Promise<Omit<Heartbeat, 'sequence' | 'sentAt'>>;
  onResponse: (response: HeartbeatResponse) => Promise<void>;
  logger: Logger;
  fetchImpl?: typeof fetch;
  random?: () => number;
  /** The node's wall clock, for `sentAt` (a test-only offset may skew it); default `Date.now`. */
  nowMs?: () => number;
}

/**
 * Posts the node's full observed state every interval (jittered) and at once after a change
 * (coalesced: any number of pokes during a beat cause one more beat). While the orchestrator is
 * unreachable it retries with exponential backoff capped at the interval. It runs beside the
 * container work and never blocks it.
 */
export class HeartbeatClient {
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private pokedDuringBeat = false;
  private failures = 0;
  private lastBeatStartMs = 0;
  private stopped = true;
  private readonly intervalMs: number;

  constructor(private readonly options: HeartbeatClientOptions) {
    this.intervalMs = options.intervalMs ?? heartbeatIntervalMsDefault;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Something changed: send soon. */
  poke(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.pokedDuringBeat = true;
      return;
    }
    this.schedule(Math.max(0, this.lastBeatStartMs + heartbeatMinGapMs - Date.now()));
  }

  /** Sends one beat now (tests, shutdown); returns whether the orchestrator accepted it. */
  async beatOnce(): Promise<boolean> {
    await this.inFlight;
    let accepted = false;
    this.inFlight = this.send().then((ok) => {
      accepted = ok;
    });
    await this.inFlight;
    this.inFlight = undefined;
    return accepted;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.inFlight) return;
    this.pokedDuringBeat = false;
    this.inFlight = this.send().then(() => undefined);
    await this.inFlight;
    this.inFlight = undefined;
    if (this.pokedDuringBeat) this.schedule(heartbeatMinGapMs);
    else if (this.failures > 0)
      this.schedule(Math.min(this.intervalMs, heartbeatBackoffBaseMs * 2 ** (this.failures - 1)));
    else this.schedule(this.jittered());
  }

  private jittered(): number {
    const random = this.options.random ?? Math.random;
    return Math.round(this.intervalMs * (1 + heartbeatJitterRatio * (2 * random() - 1)));
  }

  private async send(): Promise<boolean> {
    this.lastBeatStartMs = Date.now();
    const url = `${this.options.orchestratorUrl}/v1/nodes/${encodeURIComponent(this.options.nodeName)}/heartbeat`;
    try {
      this.sequence += 1;
      const body: Heartbeat = {
        ...(await this.options.build()),
        sequence: this.sequence,
        sentAt: new Date((this.options.nowMs ?? Date.now)()).toISOString(),
      };
      const response = await (this.options.fetchImpl ?? fetch)(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.joinSecret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(heartbeatRequestTimeoutMs),
      });
      if (!response.ok) throw new Error(`orchestrator answered ${response.status}`);
      const answer: unknown = await response.json();
      this.failures = 0;
      if (!Value.Check(HeartbeatResponse, answer)) {
        this.options.logger.warn('heartbeat response does not match the protocol; ignored');
        return true;
      }
      await this.options.onResponse(answer);
      return answer.accepted;
    } catch (error) {
      this.failures += 1;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.options.logger.warn(
          { err: error, failures: this.failures },
          'heartbeat failed; retrying with backoff',
        );
      }
      return false;
    }
  }
}
