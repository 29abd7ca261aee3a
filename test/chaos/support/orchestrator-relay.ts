/**
 * A per-node "load balancer" in front of the orchestrator replicas: a loopback HTTP relay that
 * forwards each request of one node (heartbeats, the JWKS) to the first replica that answers,
 * as a load balancer with health checks would. A test can cut the node off (its requests are
 * dropped: the socket is destroyed without an answer, as a network partition looks to a client)
 * and heal it, and can hook heartbeats to delay, duplicate or hold them back for reordering.
 *
 * Every delivered heartbeat is counted with its answer, so "this node's beats arrive" is
 * observable from outside (the invariant monitor judges healthy nodes by it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamHealth } from './upstream-health.js';

/** Below the agent's own heartbeat timeout (5 s), so a frozen replica leaves time to try the next. */
export const relayUpstreamTimeoutMs = 2_000;
const forwardedRequestHeaders = ['authorization', 'content-type', 'accept', 'if-none-match'];
const forwardedResponseHeaders = ['content-type', 'etag', 'cache-control', 'retry-after'];

export interface RelayedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface RelayedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Decides what happens to one heartbeat: `deliver()` sends it upstream (and may be called more
 * than once: duplicates) and resolves with the answer. Whatever the hook returns is what the node
 * gets back; the default hook delivers once.
 */
export type HeartbeatHook = (
  request: RelayedRequest,
  deliver: () => Promise<RelayedAnswer>,
) => Promise<RelayedAnswer>;

export interface OrchestratorRelay {
  readonly url: string;
  /** While cut, every request of this node is dropped without an answer. */
  cut(): void;
  heal(): void;
  readonly isCut: boolean;
  /** Replaces the heartbeat hook (undefined: deliver once). */
  setHeartbeatHook(hook: HeartbeatHook | undefined): void;
  /**
   * Wall-clock ms of the last heartbeat that reached the relay while not cut: the node is alive
   * and reachable, whatever the orchestrators answered (a 503 during a Redis outage included).
   */
  readonly lastBeatArrivedAtMs: number | undefined;
  /** Wall-clock ms of the last heartbeat the orchestrator answered 2xx; undefined before the first. */
  readonly lastBeatDeliveredAtMs: number | undefined;
  readonly beatsDelivered: number;
  /** Sends a request straight upstream, bypassing cut and hooks (replays). */
  deliver(request: RelayedRequest): Promise<RelayedAnswer>;
  close(): Promise<void>;
}

export async function startOrchestratorRelay(options: {
  /** The replicas' base URLs, in preference order; asked each time (replicas come and go). */
  upstreams: () => readonly string[];
}): Promise<OrchestratorRelay> {
  let cut = false;
  let hook: HeartbeatHook | undefined;
  let lastBeatDeliveredAtMs: number | undefined;
  let lastBeatArrivedAtMs: number | undefined;
  let beatsDelivered = 0;
  const health = new UpstreamHealth();

  const deliver = async (request: RelayedRequest): Promise<RelayedAnswer> => {
    let lastError: unknown = new Error('no orchestrator replica configured');
    for (const upstream of health.order(options.upstreams())) {
      try {
        const response = await fetch(`${upstream}${request.path}`, {
          method: request.method,
          headers: request.headers,
          ...(request.body.length > 0 ? { body: request.body } : {}),
          signal: AbortSignal.timeout(relayUpstreamTimeoutMs),
        });
        const headers: Record<string, string> = {};
        for (const name of forwardedResponseHeaders) {
          const value = response.headers.get(name);
          if (value !== null) headers[name] = value;
        }
        const answer = { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
        health.succeeded(upstream);
        if (isHeartbeat(request) && answer.status >= 200 && answer.status < 300) {
          lastBeatDeliveredAtMs = Date.now();
          beatsDelivered += 1;
        }
        return answer;
      } catch (error) {
        // Connection refused or timed out: this replica is down (or frozen); try the next.
        lastError = error;
        health.failed(upstream);
      }
    }
    throw lastError;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    if (cut) {
      res.destroy();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of forwardedRequestHeaders) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const request: RelayedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: Buffer.concat(chunks),
    };
    if (isHeartbeat(request)) lastBeatArrivedAtMs = Date.now();
    let answer: RelayedAnswer;
    try {
      answer =
        isHeartbeat(request) && hook !== undefined
          ? await hook(request, () => deliver(request))
          : await deliver(request);
    } catch {
      // No replica answered: what a load balancer with no healthy target says.
      answer = { status: 503, headers: { 'content-type': 'text/plain' }, body: Buffer.from('no upstream\n') };
    }
    if (cut) {
      res.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      cut = true;
      server.closeAllConnections();
    },
    heal: () => {
      cut = false;
    },
    get isCut() {
      return cut;
    },
    setHeartbeatHook: (next) => {
      hook = next;
    },
    get lastBeatArrivedAtMs() {
      return lastBeatArrivedAtMs;
    },
    get lastBeatDeliveredAtMs() {
      return lastBeatDeliveredAtMs;
    },
    get beatsDelivered() {
      return beatsDelivered;
    },
    deliver,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function isHeartbeat(request: RelayedRequest): boolean {
  return request.method === 'POST' && /^\/v1\/nodes\/[^/]+\/heartbeat(\?|$)/.test(request.path);
}
