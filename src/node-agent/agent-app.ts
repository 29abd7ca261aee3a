import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import {
  ActivityReport,
  EnsureRunningRequest,
  StopRequest,
  type AgentContainerView,
} from '../model/agent-protocol.js';
import { agentEpochFrom, checkProxyCaller } from './agent-auth.js';
import { installErrorHandling } from './agent-errors.js';
import type { NodeAgent } from './node-agent.js';

/** Largest legitimate command: a spec with 64 env values of 4 KiB is ~260 KiB. */
export const agentBodyLimitBytes = 512 * 1024;
/** A start on a busy Docker engine can take tens of seconds; nothing legitimate takes longer. */
export const agentRequestTimeoutMs = 120_000;
/** Codespace uids as they appear in container names and state-file names: no dots, no slashes. */
export const uidPattern = '^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$';

export interface AgentAppOptions {
  agent: NodeAgent;
  /** Orchestrator verification keys: a `CachedKeySet.getKey`, or a key set installed directly in tests. */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  /** Shared with the node proxy through `<dataDir>/proxy-secret`. */
  proxySecret: string;
  runtimeKind: string;
  /** Brings the KV in step with the runtime's labels before a listing is answered. */
  refresh?: () => Promise<void>;
  logger?: Logger;
}

const UidParams = Type.Object({ uid: Type.String({ pattern: uidPattern }) }, { additionalProperties: false });

/**
 * The node agent's HTTP API (see src/model/agent-protocol.ts and docs/node-agent.md). Built
 * apart from the process entry so tests can `inject` requests.
 */
export async function buildAgentApp(options: AgentAppOptions): Promise<FastifyInstance> {
  const base = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: agentBodyLimitBytes,
    requestTimeout: agentRequestTimeoutMs,
    // Unknown fields are refused, not silently dropped; nothing is coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
  });
  installErrorHandling(base);
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const { agent } = options;
  const epochs = new WeakMap<FastifyRequest, number>();
  const epochOf = (request: FastifyRequest): number => epochs.get(request)!;
  // Authentication runs before the body is even parsed: an unauthenticated caller costs no parsing.
  const authenticate = async (request: FastifyRequest) => {
    epochs.set(
      request,
      await agentEpochFrom(request.headers.authorization, { nodeName: agent.nodeName, keys: options.keys }),
    );
  };

  app.get('/healthz', async () => ({
    ok: true,
    node: agent.nodeName,
    runtime: options.runtimeKind,
    highestEpoch: agent.highestEpoch,
    draining: agent.draining,
  }));

  app.get('/v1/codespaces', { onRequest: authenticate }, async () => {
    await options.refresh?.();
    return { containers: agent.observed() };
  });

  app.put(
    '/v1/codespaces/:uid',
    { onRequest: authenticate, schema: { params: UidParams, body: EnsureRunningRequest } },
    async (request): Promise<AgentContainerView> => ({
      container: await agent.ensureRunning(request.params.uid, request.body, epochOf(request)),
    }),
  );

  app.post(
    '/v1/codespaces/:uid/stop',
    { onRequest: authenticate, schema: { params: UidParams, body: StopRequest } },
    async (request): Promise<AgentContainerView> => ({
      container: await agent.stop(request.params.uid, request.body, epochOf(request)),
    }),
  );

  app.delete(
    '/v1/codespaces/:uid',
    { onRequest: authenticate, schema: { params: UidParams } },
    async (request): Promise<AgentContainerView> => {
      await agent.remove(request.params.uid, epochOf(request));
      return { container: null };
    },
  );

  app.post('/v1/drain', { onRequest: authenticate }, async (request) => {
    await agent.drain(epochOf(request));
    return { draining: true };
  });

  app.post(
    '/v1/activity',
    {
      onRequest: async (request) =>
        checkProxyCaller(request.socket.remoteAddress, request.headers.authorization, options.proxySecret),
      schema: { body: ActivityReport },
    },
    async (request) => {
      agent.recordActivity(request.body.lastActivity);
      return { accepted: true };
    },
  );

  return base;
}
