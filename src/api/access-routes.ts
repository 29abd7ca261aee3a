import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CodeyardError } from '../model/errors.js';
import type { OrchestratorContext } from '../orchestrator/context.js';
import { issueAccessToken } from '../tokens/issue-token.js';
import { accessTokenTtlSecondsDefault, nodeAudience } from '../tokens/token-kinds.js';
import { principalOf } from './api-authentication.js';
import { loadVisibleCodespace } from './codespace-access-control.js';
import { accessUrlFor } from './access-url.js';
import { AccessGrant, CodespaceNameParams, commonErrorResponses } from './schemas.js';

/**
 * `POST /v1/codespaces/{name}/access`: a short-lived token for the node proxy in front of a
 * running codespace, and the URL to open. Requires an API token (registered under the auth hook).
 */
export const accessRoutes: FastifyPluginAsyncTypebox<{ context: OrchestratorContext }> = async (
  app,
  { context },
) => {
  const { store, clock, config, keyRing } = context;

  app.post(
    '/v1/codespaces/:name/access',
    {
      schema: {
        tags: ['codespaces'],
        summary: 'Get a URL and short-lived token to open a running codespace',
        params: CodespaceNameParams,
        response: { 200: AccessGrant, ...commonErrorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const codespace = await loadVisibleCodespace(store, principal, request.params.name);
      const { name } = codespace.metadata;
      const nodeName = codespace.status.nodeName;
      if (codespace.status.phase !== 'Running' || nodeName === undefined) {
        throw new CodeyardError(
          'CODESPACE_NOT_RUNNING',
          `codespace "${name}" is ${codespace.status.phase}, not Running; start it and wait for phase Running`,
        );
      }
      const node = await store.getNode(nodeName);
      if (!node) {
        throw new CodeyardError(
          'CODESPACE_NOT_RUNNING',
          `codespace "${name}" is on node "${nodeName}", which is not known`,
        );
      }
      const nowSeconds = Math.floor(clock.nowMs() / 1000);
      // `sub` is the owner even when an admin asks: the token opens the owner's workspace,
      // and the proxy may check it against the container's owner label.
      const token = await issueAccessToken(
        keyRing,
        { user: codespace.metadata.owner, codespace: name, audience: nodeAudience(nodeName) },
        { nowSeconds, ttlSeconds: accessTokenTtlSecondsDefault },
      );
      request.log.info({ codespace: name, node: nodeName, by: principal.user }, 'access token issued');
      return {
        url: accessUrlFor({
          proxyUrl: node.proxyUrl,
          codespaceName: name,
          token,
          routingMode: config.routingMode,
        }),
        token,
        expiresAt: new Date((nowSeconds + accessTokenTtlSecondsDefault) * 1000).toISOString(),
      };
    },
  );
};
