import { timingSafeEqual } from 'node:crypto';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { CodeyardError } from '../model/errors.js';
import { nodeAudience } from '../tokens/token-kinds.js';
import { verifyToken } from '../tokens/verify-token.js';

export function bearerOf(header: string | undefined): string {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(header ?? '');
  if (!match) throw new CodeyardError('UNAUTHENTICATED', 'missing or malformed bearer token');
  return match[1]!;
}

/**
 * Verifies an orchestrator command token for this node (typ agent, aud node:<name>, pinned
 * algorithm and issuer) and returns the leader epoch it carries.
 */
export async function agentEpochFrom(
  header: string | undefined,
  options: { nodeName: string; keys: JSONWebKeySet | JWTVerifyGetKey },
): Promise<number> {
  const payload = await verifyToken(bearerOf(header), {
    kind: 'agent',
    audience: nodeAudience(options.nodeName),
    keys: options.keys,
  });
  const epoch = payload['epoch'];
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) {
    throw new CodeyardError('UNAUTHENTICATED', 'invalid token: claim "epoch" is not a non-negative integer');
  }
  return epoch;
}

const loopbackAddresses = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The proxy's activity reports come only from this machine, with the node-local shared secret. */
export function checkProxyCaller(
  remoteAddress: string | undefined,
  header: string | undefined,
  secret: string,
): void {
  if (!remoteAddress || !loopbackAddresses.has(remoteAddress)) {
    throw new CodeyardError('FORBIDDEN', 'activity reports are accepted from loopback only');
  }
  const given = Buffer.from(bearerOf(header));
  const expected = Buffer.from(secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CodeyardError('UNAUTHENTICATED', 'wrong proxy secret');
  }
}
