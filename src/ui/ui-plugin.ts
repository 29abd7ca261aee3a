import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const staticDir = join(dirname(fileURLToPath(import.meta.url)), 'static');

const assets = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;

/** The UI's own origin only; the watch WebSocket is same-origin too. */
const contentSecurityPolicy =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/**
 * Serves the web UI: three static files read once at start-up, so serving them costs a
 * Map lookup. No build step: the UI is a plain ES module.
 */
export async function uiPlugin(app: FastifyInstance): Promise<void> {
  const files = new Map(
    Object.entries(assets).map(([name, type]) => [name, { body: readFileSync(join(staticDir, name)), type }]),
  );
  const send = (name: keyof typeof assets) => {
    const file = files.get(name)!;
    return async (_request: unknown, reply: FastifyReply) =>
      reply
        .header('content-type', file.type)
        .header('content-security-policy', contentSecurityPolicy)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(file.body);
  };
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { schema: { hide: true } }, send('index.html'));
  app.get('/ui/app.js', { schema: { hide: true } }, send('app.js'));
  app.get('/ui/style.css', { schema: { hide: true } }, send('style.css'));
}
