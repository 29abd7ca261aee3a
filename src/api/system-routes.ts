import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CodeyardError } from '../model/errors.js';
import type { OrchestratorContext } from '../orchestrator/context.js';
import { JsonWebKeySet } from './schemas.js';

/** A readiness probe must answer even when the store hangs. */
export const readinessPingTimeoutMs = 2000;
/** Nodes refresh their key cache about this often anyway; rotation keeps old keys published longer. */
export const jwksMaxAgeSeconds = 60;

const Status = Type.Object({ status: Type.String() });

/** Probes, metrics, the OpenAPI document and the public key set. None needs an API token. */
export const systemRoutes: FastifyPluginAsyncTypebox<{ context: OrchestratorContext }> = async (
  app,
  { context },
) => {
  const noRateLimit = { rateLimit: false } as const;

  app.get(
    '/healthz',
    {
      config: noRateLimit,
      schema: { tags: ['system'], summary: 'The process is alive', security: [], response: { 200: Status } },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: noRateLimit,
      schema: {
        tags: ['system'],
        summary: 'The store answers (503 otherwise)',
        security: [],
        response: { 200: Status },
      },
    },
    async () => {
      await pingWithin(context, readinessPingTimeoutMs);
      return { status: 'ready' };
    },
  );

  app.get('/metrics', { config: noRateLimit, schema: { hide: true } }, async (_request, reply) => {
    return reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics());
  });

  app.get('/openapi.json', { config: noRateLimit, schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/v1/jwks.json',
    {
      schema: {
        tags: ['system'],
        summary: 'Public keys that verify codeyard tokens (nodes cache them)',
        security: [],
        response: { 200: JsonWebKeySet },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
      return context.keyRing.jwks();
    },
  );
};

async function pingWithin(context: OrchestratorContext, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new CodeyardError('STORE_UNAVAILABLE', `store did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([context.store.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
