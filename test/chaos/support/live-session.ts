/**
 * A user's open session through a node proxy, as an editor tab holds it: one HTTP keep-alive
 * connection used for requests and one WebSocket to the workspace's `/echo` (the test image's
 * stand-in for VS Code's socket). A background prober sends a request and an echo every
 * `sessionProbeIntervalMs` and records any failure: "open sessions survive every control-plane-only
 * fault" is checked by that record, continuously, not by one look at the end.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export const sessionProbeIntervalMs = 500;
export const sessionProbeTimeoutMs = 5_000;

export interface SessionFailure {
  readonly atMs: number;
  readonly what: string;
}

export class LiveSession {
  readonly failures: SessionFailure[] = [];
  probes = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket: WebSocket | undefined;
  private nextEcho = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly url: URL;

  private constructor(
    readonly codespace: string,
    base: string,
    private readonly cookie: string,
  ) {
    this.url = new URL(`${base}/`);
  }

  /** Opens the session from an access grant (`POST /v1/codespaces/<name>/access`). */
  static async open(codespace: string, access: { url: string }): Promise<LiveSession> {
    // As a browser: the access URL answers 302 with the proxy's session cookie.
    const response = await fetch(access.url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(sessionProbeTimeoutMs),
    });
    await response.body?.cancel();
    if (response.status !== 302) throw new Error(`access URL answered ${response.status}, not 302`);
    const cookie = response.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ');
    const base = new URL(access.url);
    base.search = '';
    const session = new LiveSession(codespace, base.toString().replace(/\/$/, ''), cookie);
    await session.connectSocket();
    await session.probeOnce();
    if (session.failures.length > 0) {
      session.close();
      throw new Error(`session to ${codespace} does not flow: ${session.failures[0]!.what}`);
    }
    return session;
  }

  /** Starts the background prober. */
  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.probeOnce();
        await sleep(sessionProbeIntervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Failures at or after `sinceMs` (e.g. since a fault began). */
  failuresSince(sinceMs: number): SessionFailure[] {
    return this.failures.filter((f) => f.atMs >= sinceMs);
  }

  close(): void {
    this.stopped = true;
    this.socket?.terminate();
    this.agent.destroy();
  }

  /** One HTTP request on the kept-alive connection and one echo on the WebSocket. */
  async probeOnce(): Promise<void> {
    this.probes += 1;
    const atMs = Date.now();
    await this.httpProbe().catch((error: unknown) =>
      this.failures.push({ atMs, what: `http: ${String(error)}` }),
    );
    await this.echoProbe().catch((error: unknown) =>
      this.failures.push({ atMs, what: `websocket: ${String(error)}` }),
    );
  }

  private httpProbe(): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: `${this.url.pathname}healthz`,
          headers: { cookie: this.cookie },
          agent: this.agent,
          timeout: sessionProbeTimeoutMs,
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve()
              : reject(new Error(`HTTP ${res.statusCode} ${body.slice(0, 80)}`)),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  private connectSocket(): Promise<void> {
    const wsUrl = `ws://${this.url.host}${this.url.pathname}echo`;
    const socket = new WebSocket(wsUrl, { headers: { cookie: this.cookie } });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade answered ${res.statusCode}`)),
      );
    });
  }

  private echoProbe(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error(`socket not open (state ${socket?.readyState})`));
    }
    const message = `probe-${(this.nextEcho += 1)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.off('message', onMessage);
        reject(new Error(`no echo of ${message} within ${sessionProbeTimeoutMs} ms`));
      }, sessionProbeTimeoutMs);
      const onMessage = (data: WebSocket.RawData): void => {
        if (data.toString() !== message) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve();
      };
      socket.on('message', onMessage);
      socket.send(message);
    });
  }
}
