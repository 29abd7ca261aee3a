import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { HeartbeatResponse } from '../model/agent-protocol.js';
import { CodeyardError } from '../model/errors.js';
import { Heartbeat, NodeRecord } from '../model/node.js';
import type { OrchestratorContext } from '../orchestrator/context.js';
import { apiAuthenticationHook, bearerCredential, requireAdmin } from './api-authentication.js';
import { fleetSecretMatcher } from './fleet-authentication.js';
import { withReadyCondition } from './node-readiness.js';
import { commonErrorResponses, NodeNameParams } from './schemas.js';

/**
 * A heartbeat holds a node's whole observed state (up to 1000 containers and their volumes),
 * more than the 64 KiB API limit; it is read only after the join secret checked out.
 */
export const heartbeatBodyLimitBytes = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The fleet whose join secret authenticated this request. */
    joinedFleet?: string;
  }
}

const tags = ['nodes'];

/**
 * The heartbeat route's log level for an orchestrator logging at `appLevel`. Every node beats
 * every few seconds, so at 2,000 nodes its two access lines per request ("incoming request",
 * "request completed", both info) would be most of the log and a real share of the CPU: at `info`
 * the route logs from `warn` up (failures still show); at `debug` or `trace` it logs as the app
 * does, access lines and ignored stale beats included. A quieter app level stays as it is.
 */
export function heartbeatRouteLogLevel(appLevel: LevelWithSilent): LevelWithSilent {
  return appLevel === 'info' ? 'warn' : appLevel;
}

/** Node agents post heartbeats here (fleet join secret); admins list and cordon nodes (API token). */
export const nodeRoutes: FastifyPluginAsyncTypebox<{ context: OrchestratorContext }> = async (
  app,
  { context },
) => {
  const { store, clock, config } = context;
  const fleetForSecret = fleetSecretMatcher(config.fleetJoinSecrets);
  const view = (node: NodeRecord): NodeRecord =>
    withReadyCondition(node, { nowMs: clock.nowMs(), notReadyAfterMs: config.nodeNotReadyAfterMs });

  app.post(
    '/v1/nodes/:name/heartbeat',
    {
      bodyLimit: heartbeatBodyLimitBytes,
      logLevel: heartbeatRouteLogLevel(app.log.level as LevelWithSilent),
      // Before the body is read: a caller without the secret never gets a megabyte parsed.
      preParsing: async (request: FastifyRequest, _reply, payload) => {
        const fleet = fleetForSecret(bearerCredential(request));
        if (fleet === undefined) throw new CodeyardError('UNAUTHENTICATED', 'invalid join secret');
        request.joinedFleet = fleet;
        return payload;
      },
      config: {
        rateLimit: {
          keyGenerator: (request: FastifyRequest) =>
            `node:${(request.params as { name?: string }).name ?? ''}`,
        },
      },
      schema: {
        tags,
        summary: 'A node agent reports its observed state (Authorization: Bearer <fleet join secret>)',
        security: [{ joinSecret: [] }],
        params: NodeNameParams,
        body: Heartbeat,
        response: { 200: HeartbeatResponse, ...commonErrorResponses },
      },
    },
    async (request) => {
      const beat = request.body;
      const fleet = request.joinedFleet;
      if (beat.nodeName !== request.params.name) {
        throw new CodeyardError('VALIDATION_FAILED', 'nodeName must match the node name in the path', {
          field: 'nodeName',
        });
      }
      if (beat.fleet !== fleet) {
        throw new CodeyardError('FORBIDDEN', 'this join secret is not valid for that fleet', {
          field: 'fleet',
        });
      }
      // A node recorded under another fleet is refused (FORBIDDEN) by the store, in the same
      // round trip as the write.
      const result = await store.applyHeartbeat(beat, {
        receivedAtMs: clock.nowMs(),
        ...(fleet === undefined ? {} : { expectedFleet: fleet }),
      });
      if (!result.accepted) {
        request.log.debug({ node: beat.nodeName, sequence: beat.sequence }, 'stale heartbeat ignored');
      }
      const desired = context.assignmentsFor ? await context.assignmentsFor(beat.nodeName) : undefined;
      return { accepted: result.accepted, ...(desired ?? {}) };
    },
  );

  await app.register(async (adminScope) => {
    const admin = adminScope.withTypeProvider<TypeBoxTypeProvider>();
    admin.addHook('preParsing', apiAuthenticationHook(context.keyRing));

    admin.get(
      '/v1/nodes',
      {
        schema: {
          tags,
          summary: 'List nodes with their Ready condition (admin)',
          response: { 200: Type.Object({ items: Type.Array(NodeRecord) }), ...commonErrorResponses },
        },
      },
      async (request) => {
        requireAdmin(request);
        return { items: (await store.listNodes()).map(view) };
      },
    );

    for (const [action, unschedulable] of [
      ['cordon', true],
      ['uncordon', false],
    ] as const) {
      admin.post(
        `/v1/nodes/:name/${action}`,
        {
          schema: {
            tags,
            summary: `${action === 'cordon' ? 'Stop' : 'Resume'} placing codespaces on a node (admin)`,
            params: NodeNameParams,
            response: { 200: NodeRecord, ...commonErrorResponses },
          },
        },
        async (request) => {
          requireAdmin(request);
          const node = await store.setNodeUnschedulable(request.params.name, unschedulable);
          request.log.info({ node: node.name, unschedulable }, `node ${action}ed`);
          return view(node);
        },
      );
    }
  });
};
