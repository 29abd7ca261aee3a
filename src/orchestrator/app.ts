import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessRoutes } from '../api/access-routes.js';
import { apiAuthenticationHook, tokenKeyFor } from '../api/api-authentication.js';
import { codespaceRoutes } from '../api/codespace-routes.js';
import { errorBodyFor } from '../api/error-mapping.js';
import { nodeRoutes } from '../api/node-routes.js';
import { mayHoldPrototypeKeys } from '../api/prototype-keys.js';
import { systemRoutes } from '../api/system-routes.js';
import { WatchRegistry } from '../api/watch-registry.js';
import { registerWatchWebSocket } from '../api/watch-websocket.js';
import { uiPlugin } from '../ui/ui-plugin.js';
import { apiVersion } from '../model/codespace.js';
import { CodeyardError, httpStatusFor } from '../model/errors.js';
import type { OrchestratorContext } from './context.js';

/** Request bodies of the user API; heartbeats have their own larger limit. */
export const requestBodyLimitBytes = 64 * 1024;

/**
 * The orchestrator's HTTP app: the user API, node heartbeats, probes, metrics and docs.
 * Built from a context and nothing else, so tests drive it with `app.inject` against a
 * MemoryStore; `main.ts` adds the listener, timeouts and shutdown.
 */
export type OrchestratorApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export async function buildOrchestratorApp(context: OrchestratorContext): Promise<OrchestratorApp> {
  const { config, metrics } = context;
  const logger: FastifyBaseLogger = context.logger;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: requestBodyLimitBytes,
    // Shutdown: new requests get 503 while in-flight ones finish.
    return503OnClosing: true,
    ajv: {
      // Bodies are validated as sent: no silent stripping, no type juggling, first error only.
      customOptions: { removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const watches = new WatchRegistry({
    perTokenMax: config.watchesPerTokenMax,
    onCountChange: (open) => metrics.watchers.set(open),
  });
  // Before the server stops accepting: open streams end, their clients resume elsewhere.
  app.addHook('preClose', async () => watches.abortAll());

  installJsonParsing(app);
  installErrorHandling(app, context);
  installRequestMetrics(app, context);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'codeyard orchestrator API',
        version: apiVersion,
        description: 'Codespaces as desired state: create, read, watch, start, stop, delete.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          joinSecret: { type: 'http', scheme: 'bearer', description: 'a fleet join secret (node agents)' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(rateLimit, {
    global: true,
    // A fixed window of `burst` requests per burst/rate seconds: `rate` per second on average,
    // `burst` at once.
    max: config.rateLimitBurst,
    timeWindow: Math.ceil((config.rateLimitBurst / config.rateLimitPerSecond) * 1000),
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (_request, limit) =>
      new CodeyardError('RATE_LIMITED', `rate limit exceeded; retry in ${limit.after}`),
  });

  await app.register(systemRoutes, { context });
  await app.register(uiPlugin);
  registerWatchWebSocket(app, {
    store: context.store,
    keyRing: context.keyRing,
    bookmarkIntervalMs: config.watchBookmarkIntervalMs,
    bufferLimit: config.watchBufferLimit,
  });
  await app.register(nodeRoutes, { context });
  await app.register(async (authenticated) => {
    // preParsing: after the rate limit (onRequest), before any body is read.
    authenticated.addHook('preParsing', apiAuthenticationHook(context.keyRing));
    await authenticated.register(codespaceRoutes, { context, watches });
    await authenticated.register(accessRoutes, { context });
  });

  return app;
}

/** Per API token (hashed); requests without one share their client address's budget. */
function rateLimitKey(request: FastifyRequest): string {
  const authorization = request.headers.authorization;
  return typeof authorization === 'string' && authorization !== ''
    ? `token:${tokenKeyFor(authorization)}`
    : `ip:${request.ip}`;
}

/**
 * JSON is the only body type: `application/json` and, for PATCH, `application/merge-patch+json`.
 * Anything else is 415. An empty body is no body (so `POST …/start` works with or without a
 * JSON content type); prototype-poisoning keys are refused (bodies that cannot hold one skip the
 * rescan for them).
 */
function installJsonParsing(app: OrchestratorApp): void {
  const strictJson = app.getDefaultJsonParser('error', 'error');
  const parseJson = (
    request: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    if (!mayHoldPrototypeKeys(text)) {
      // No key can be `__proto__` or `constructor`: the careful parse would only rescan the text.
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        strictJson(request, text, done); // the same error (or BOM handling) as every other body
        return;
      }
      done(null, parsed);
      return;
    }
    strictJson(request, text, done);
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'string' },
    parseJson,
  );
}

/** Every error leaves as `{ code, message, field? }` with the status `httpStatusFor` gives its code. */
function installErrorHandling(app: OrchestratorApp, context: OrchestratorContext): void {
  app.setErrorHandler((error, request, reply) => {
    const body = errorBodyFor(error);
    const status = httpStatusFor(body.code);
    if (status >= 500) {
      if (body.code === 'STORE_UNAVAILABLE') {
        context.metrics.storeErrors.inc({ code: body.code });
        request.log.warn({ err: error }, 'store unavailable');
      } else {
        request.log.error({ err: error }, 'request failed');
      }
    }
    if (body.code === 'STORE_UNAVAILABLE') void reply.header('retry-after', '1');
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      code: 'NOT_FOUND',
      message: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
    }),
  );
}

function installRequestMetrics(app: OrchestratorApp, context: OrchestratorContext): void {
  app.addHook('onResponse', async (request, reply) => {
    // Route templates, never raw URLs: label cardinality stays bounded.
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    context.metrics.httpRequests.inc(labels);
    context.metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
  });
}
