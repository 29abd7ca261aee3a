import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import { type Codespace, CodespaceCreateRequest } from '../model/codespace.js';
import { CodeyardError } from '../model/errors.js';
import type { OrchestratorContext } from '../orchestrator/context.js';
import { listLimitMax } from '../store/store.js';
import { principalOf } from './api-authentication.js';
import { loadVisibleCodespace } from './codespace-access-control.js';
import {
  applyUserChange,
  mergePatchChange,
  replaceChange,
  type MergePatchBody,
} from './codespace-changes.js';
import { newCodespaceFrom } from './codespace-factory.js';
import { serveCodespaceWatch } from './codespace-watch.js';
import { codespaceListJson } from './list-response.js';
import { parseLabelSelector } from './label-selector.js';
import type { Principal } from './principal.js';
import {
  CodespaceBody,
  CodespaceList,
  CodespaceNameParams,
  CodespacePatchRequest,
  CodespaceReplaceRequest,
  commonErrorResponses,
  ListQuery,
  RemovedMarker,
} from './schemas.js';
import type { WatchRegistry } from './watch-registry.js';

export const listPageSizeDefault = 500;
/**
 * The largest page: everything the store returns in one call, so an admin lists 10,000
 * codespaces in one request. A user's list is scoped to their own, which the per-owner quota
 * bounds anyway.
 */
export const listPageSizeMax = listLimitMax;
/** Lost compare-and-set races a PATCH without a precondition retries before answering 409. */
export const patchConflictRetriesMax = 3;

const tags = ['codespaces'];
/**
 * Request log level of these routes. fastify's two access lines per request ("incoming
 * request", "request completed") at info were, after the store call, the largest CPU cost of a
 * mutation (a synchronous write each). Failures still reach the log (the error handler logs at
 * warn / error); creations and deletions keep one info line each, through `app.log`.
 */
export const codespaceRouteLogLevelMin = 'warn';
/** Levels that already say less than `codespaceRouteLogLevelMin`: a quieter logger stays as it is. */
const quieterLevels = ['error', 'fatal', 'silent'] as const;

export interface CodespaceRoutesOptions {
  context: OrchestratorContext;
  watches: WatchRegistry;
}

/** `/v1/codespaces…`: create, read, list, watch, replace, patch, start, stop, delete. */
export const codespaceRoutes: FastifyPluginAsyncTypebox<CodespaceRoutesOptions> = async (
  app,
  { context, watches },
) => {
  const { store, config, clock } = context;
  const nowIso = (): string => new Date(clock.nowMs()).toISOString();
  const codespaceRouteLogLevel =
    quieterLevels.find((level) => level === app.log.level) ?? codespaceRouteLogLevelMin;

  app.post(
    '/v1/codespaces',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'Create a codespace',
        body: CodespaceCreateRequest,
        response: { 201: CodespaceBody, ...commonErrorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const codespace = newCodespaceFrom(request.body, {
        owner: principal.user,
        uid: randomUUID(),
        now: nowIso(),
        defaultImage: config.defaultImage,
      });
      const created = await store.createCodespace(codespace, { maxPerOwner: config.maxCodespacesPerOwner });
      app.log.info(
        { reqId: request.id, codespace: created.metadata.name, owner: principal.user },
        'codespace created',
      );
      return reply.code(201).header('location', `/v1/codespaces/${created.metadata.name}`).send(created);
    },
  );

  app.get(
    '/v1/codespaces',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'List codespaces, or watch them with ?watch=1 (Server-Sent Events)',
        querystring: ListQuery,
        response: { 200: CodespaceList, 410: commonErrorResponses[409], ...commonErrorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const query = request.query;
      const owner = ownerScope(principal, query.owner);
      const labelSelector = query.labelSelector === undefined ? {} : parseLabelSelector(query.labelSelector);
      if (query.watch === '1' || query.watch === 'true') {
        const scoped: Principal =
          owner === undefined || owner === principal.user
            ? principal
            : { ...principal, role: 'user', user: owner };
        await serveCodespaceWatch(request, reply, {
          store,
          watches,
          principal: scoped,
          labelSelector,
          queryResourceVersion: query.resourceVersion,
          bookmarkIntervalMs: config.watchBookmarkIntervalMs,
          bufferLimit: config.watchBufferLimit,
        });
        return reply;
      }
      const limit = query.limit === undefined ? listPageSizeDefault : Number(query.limit);
      if (limit < 1 || limit > listPageSizeMax) {
        throw new CodeyardError('INVALID_PARAMETER', `limit must be between 1 and ${listPageSizeMax}`, {
          field: 'limit',
        });
      }
      const page = await store.listCodespaceJson({
        ...(owner === undefined ? {} : { owner }),
        labelSelector,
        limit,
        ...(query.continue === undefined ? {} : { continueAfter: query.continue }),
      });
      // A string with a JSON content type skips the schema serializer (see list-response.ts); the
      // schema still documents the body, hence the cast past the type provider.
      const body = codespaceListJson(page) as unknown as Static<typeof CodespaceList>;
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.get(
    '/v1/codespaces/:name',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'Get a codespace',
        params: CodespaceNameParams,
        response: { 200: CodespaceBody, ...commonErrorResponses },
      },
    },
    async (request) => loadVisibleCodespace(store, principalOf(request), request.params.name),
  );

  app.put(
    '/v1/codespaces/:name',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'Replace a codespace’s spec and labels (metadata.resourceVersion is required)',
        params: CodespaceNameParams,
        body: CodespaceReplaceRequest,
        response: { 200: CodespaceBody, ...commonErrorResponses },
      },
    },
    async (request) => {
      const current = await loadVisibleCodespace(store, principalOf(request), request.params.name);
      const expected = request.body.metadata.resourceVersion;
      if (expected !== current.metadata.resourceVersion) throw staleVersion(current, expected);
      const next = applyUserChange(current, replaceChange(current, request.body));
      return store.updateCodespace(next, { expectedResourceVersion: expected });
    },
  );

  app.patch(
    '/v1/codespaces/:name',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'Merge-patch spec.running, spec.idleTimeoutSeconds and labels',
        params: CodespaceNameParams,
        body: CodespacePatchRequest,
        response: { 200: CodespaceBody, ...commonErrorResponses },
      },
    },
    async (request) => patchCodespace(principalOf(request), request.params.name, request.body),
  );

  for (const [action, running] of [
    ['start', true],
    ['stop', false],
  ] as const) {
    app.post(
      `/v1/codespaces/:name/${action}`,
      {
        logLevel: codespaceRouteLogLevel,
        schema: {
          tags,
          summary: `${action === 'start' ? 'Start' : 'Stop'} a codespace (sets spec.running)`,
          params: CodespaceNameParams,
          response: { 200: CodespaceBody, ...commonErrorResponses },
        },
      },
      async (request) => patchCodespace(principalOf(request), request.params.name, { spec: { running } }),
    );
  }

  app.delete(
    '/v1/codespaces/:name',
    {
      logLevel: codespaceRouteLogLevel,
      schema: {
        tags,
        summary: 'Delete a codespace (202 while its node cleans up, 200 when removed at once)',
        params: CodespaceNameParams,
        response: { 200: RemovedMarker, 202: CodespaceBody, ...commonErrorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const current = await loadVisibleCodespace(store, principal, request.params.name);
      const { object, removed } = await store.requestCodespaceDeletion(current.metadata.name, {
        now: nowIso(),
      });
      app.log.info(
        { reqId: request.id, codespace: object.metadata.name, by: principal.user, removed },
        'codespace deletion requested',
      );
      if (removed) {
        return reply
          .code(200)
          .send({ kind: 'Removed' as const, name: object.metadata.name, uid: object.metadata.uid });
      }
      return reply.code(202).send(object);
    },
  );

  /**
   * Applies a merge patch with compare-and-set. With a resourceVersion precondition a lost
   * race is the caller's 409; without one the patch is re-applied to the fresh object a few
   * times, since flipping `running` does not depend on what else changed.
   */
  async function patchCodespace(
    principal: Principal,
    name: string,
    patch: MergePatchBody,
  ): Promise<Codespace> {
    const precondition = patch.metadata?.resourceVersion;
    for (let attempt = 0; ; attempt += 1) {
      const current = await loadVisibleCodespace(store, principal, name);
      if (precondition !== undefined && precondition !== current.metadata.resourceVersion) {
        throw staleVersion(current, precondition);
      }
      const next = applyUserChange(current, mergePatchChange(current, patch));
      if (next.metadata.generation === current.metadata.generation && sameLabels(next, current)) {
        return current; // Nothing changed: no write, no watch event.
      }
      try {
        return await store.updateCodespace(next, {
          expectedResourceVersion: precondition ?? current.metadata.resourceVersion,
        });
      } catch (error) {
        const retriable =
          error instanceof CodeyardError && error.code === 'CONFLICT' && precondition === undefined;
        if (!retriable || attempt >= patchConflictRetriesMax) throw error;
      }
    }
  }
};

/** A user lists their own codespaces; `owner=` is for admins (a user may name only themself). */
function ownerScope(principal: Principal, requestedOwner: string | undefined): string | undefined {
  if (principal.role === 'admin') return requestedOwner;
  if (requestedOwner !== undefined && requestedOwner !== principal.user) {
    throw new CodeyardError('FORBIDDEN', 'only admins may list other users’ codespaces', { field: 'owner' });
  }
  return principal.user;
}

function staleVersion(current: Codespace, expected: string): CodeyardError {
  return new CodeyardError(
    'CONFLICT',
    `codespace "${current.metadata.name}" has changed (resourceVersion ${expected} is stale); read it again and retry`,
    { field: 'metadata.resourceVersion' },
  );
}

function sameLabels(a: Codespace, b: Codespace): boolean {
  const keysA = Object.keys(a.metadata.labels);
  return (
    keysA.length === Object.keys(b.metadata.labels).length &&
    keysA.every((k) => a.metadata.labels[k] === b.metadata.labels[k])
  );
}
