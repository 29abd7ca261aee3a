/**
 * A loopback HTTP relay between one node and the orchestrator. It forwards every request (the
 * JWKS, heartbeats) and keeps each heartbeat it forwarded, with the orchestrator's answer, so a
 * test can replay real captured beats later and more than once (late, duplicated, out of order),
 * or cut the node off (heartbeats answered 503, as an unreachable orchestrator would look).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Heartbeat } from '../../../src/model/node.js';

export const relayUpstreamTimeoutMs = 10_000;

export interface CapturedBeat {
  readonly beat: Heartbeat;
  readonly authorization: string;
  /** Whether the orchestrator accepted it when it was first delivered. */
  readonly accepted: boolean;
  /** When the relay began forwarding it: the orchestrator cannot have received it earlier. */
  readonly forwardedAtMs: number;
}

export interface HeartbeatRelay {
  readonly url: string;
  /** Heartbeats delivered through the relay, oldest first. */
  readonly captured: CapturedBeat[];
  /** When true, heartbeats are not delivered (answered 503); other requests still pass. */
  cut: boolean;
  /** Sends a captured beat again, straight to the orchestrator; resolves whether it was accepted. */
  replay(captured: CapturedBeat): Promise<boolean>;
  close(): Promise<void>;
}

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['authorization', 'content-type', 'accept']) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

export async function startHeartbeatRelay(options: { upstreamUrl: () => string }): Promise<HeartbeatRelay> {
  const relay: HeartbeatRelay = {
    url: '',
    captured: [],
    cut: false,
    replay: async ({ beat, authorization }) => {
      const response = await fetch(
        `${options.upstreamUrl()}/v1/nodes/${encodeURIComponent(beat.nodeName)}/heartbeat`,
        {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify(beat),
          signal: AbortSignal.timeout(relayUpstreamTimeoutMs),
        },
      );
      if (!response.ok)
        throw new Error(`replayed beat answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { accepted: boolean }).accepted;
    },
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isBeat = req.method === 'POST' && /\/v1\/nodes\/[^/]+\/heartbeat$/.test(req.url ?? '');
      if (isBeat && relay.cut) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"code":"STORE_UNAVAILABLE","message":"cut off by the chaos relay"}');
        return;
      }
      const forwardedAtMs = Date.now();
      fetch(`${options.upstreamUrl()}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: forwardHeaders(req.headers),
        ...(body.length > 0 ? { body } : {}),
        signal: AbortSignal.timeout(relayUpstreamTimeoutMs),
      })
        .then(async (upstream) => {
          const answer = Buffer.from(await upstream.arrayBuffer());
          if (isBeat && upstream.ok) {
            relay.captured.push({
              beat: JSON.parse(body.toString()) as Heartbeat,
              authorization: req.headers.authorization ?? '',
              accepted: (JSON.parse(answer.toString()) as { accepted: boolean }).accepted,
              forwardedAtMs,
            });
          }
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'application/json',
          });
          res.end(answer);
        })
        .catch(() => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end('{"code":"INTERNAL","message":"orchestrator unreachable from the relay"}');
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (relay as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return relay;
}
