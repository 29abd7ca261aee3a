import { createServer, type Server } from 'node:http';
import type { JWK } from 'jose';
import { listenLoopback } from './listen.js';

/**
 * What the node proxy talks to besides containers, faked in the load generator's process: the
 * orchestrator's key set, and the node agent's activity endpoint, where each POST is counted
 * per proxy (`/agent/<id>/v1/activity`) to show activity is batched, not written per request.
 */
export interface FakeControlPlane {
  url: string;
  activityPosts: Map<string, number>;
  close(): Promise<void>;
}

export async function startFakeControlPlane(jwks: { keys: JWK[] }): Promise<FakeControlPlane> {
  const activityPosts = new Map<string, number>();
  const jwksBody = JSON.stringify(jwks);
  const server: Server = createServer((req, res) => {
    req.resume();
    const url = req.url ?? '/';
    if (url === '/v1/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(jwksBody);
      return;
    }
    const activity = /^\/agent\/([^/]+)\/v1\/activity$/.exec(url);
    if (activity && req.method === 'POST') {
      activityPosts.set(activity[1]!, (activityPosts.get(activity[1]!) ?? 0) + 1);
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const port = await listenLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    activityPosts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
