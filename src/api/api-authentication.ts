import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { CodeyardError } from '../model/errors.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { apiAudience, type ApiRole } from '../tokens/token-kinds.js';
import { verifyToken } from '../tokens/verify-token.js';
import type { Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** A JWT we issue is well under 1 KiB; anything much longer is not ours. */
const bearerTokenMaxLength = 4096;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The credential of `Authorization: Bearer <credential>`, or UNAUTHENTICATED. */
export function bearerCredential(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') {
    throw new CodeyardError('UNAUTHENTICATED', 'missing Authorization: Bearer token');
  }
  const match = /^Bearer ([!-~]+)$/.exec(header);
  if (!match || match[1]!.length > bearerTokenMaxLength) {
    throw new CodeyardError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
  }
  return match[1]!;
}

export function tokenKeyFor(credential: string): string {
  return createHash('sha256').update(credential).digest('base64url');
}

/**
 * An `onRequest` hook: verifies the API token and records who is calling on the request. A token
 * that verified is remembered until it expires (see `VerifiedTokenCache`); `nowMs` is the clock
 * that expiry is judged by (the same wall clock token verification uses).
 */
export function apiAuthenticationHook(
  keyRing: SigningKeyRing,
  options: { nowMs?: () => number; cache?: VerifiedTokenCache } = {},
) {
  const nowMs = options.nowMs ?? Date.now;
  const cache = options.cache ?? new VerifiedTokenCache();
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const credential = bearerCredential(request);
    // The ring is read at each request so a rotation takes effect without a restart.
    const keys = keyRing.all();
    const known = cache.lookup(credential, { keys, nowMs: nowMs() });
    if (known !== undefined) {
      request.principal = known;
      return;
    }
    const payload = await verifyToken(credential, {
      kind: 'api',
      audience: apiAudience,
      keys: keyRing.jwks(),
    });
    const role = payload.role;
    if (typeof payload.sub !== 'string' || (role !== 'user' && role !== 'admin')) {
      throw new CodeyardError('UNAUTHENTICATED', 'invalid token: claims "sub" and "role" are required');
    }
    const principal: Principal = {
      user: payload.sub,
      role: role as ApiRole,
      tokenKey: tokenKeyFor(credential),
    };
    request.principal = principal;
    if (typeof payload.exp === 'number') {
      cache.remember(credential, { principal, expiresAtMs: payload.exp * 1000, keys });
    }
  };
}

/** The caller of an authenticated route; a route without the hook is a programming error. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new CodeyardError('UNAUTHENTICATED', 'not authenticated');
  return request.principal;
}

export function requireAdmin(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.role !== 'admin') throw new CodeyardError('FORBIDDEN', 'this endpoint is for admins');
  return principal;
}
