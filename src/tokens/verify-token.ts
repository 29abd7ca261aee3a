import {
  createLocalJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { CodeyardError } from '../model/errors.js';
import { defaultIssuer, tokenAlgorithm, tokenKinds, type TokenKind } from './token-kinds.js';

export interface VerifyOptions {
  kind: TokenKind;
  /** One audience or several (a node accepts its own and its fleet's). */
  audience: string | string[];
  /** Keys are looked up only here, never from the token (no `jku`, `jwk` or `x5u`). */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  issuer?: string;
  requiredClaims?: string[];
  /** Seconds; tests pass a fixed clock. */
  currentDate?: Date;
  clockToleranceSeconds?: number;
}

const requiredByKind: Record<TokenKind, string[]> = {
  api: ['sub', 'role', 'exp', 'iat'],
  agent: ['epoch', 'exp', 'iat'],
  access: ['sub', 'cs', 'exp', 'iat'],
};

/**
 * Verifies a codeyard token with algorithm, issuer, audience, type and required claims
 * pinned. Any failure is UNAUTHENTICATED with a reason that names what was wrong,
 * never which key or secret was involved.
 */
export async function verifyToken(token: string, options: VerifyOptions): Promise<JWTPayload> {
  const getKey = typeof options.keys === 'function' ? options.keys : createLocalJWKSet(options.keys);
  try {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: [tokenAlgorithm],
      issuer: options.issuer ?? defaultIssuer,
      audience: options.audience,
      typ: tokenKinds[options.kind].typ,
      requiredClaims: [...requiredByKind[options.kind], ...(options.requiredClaims ?? [])],
      ...(options.currentDate ? { currentDate: options.currentDate } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 5,
    });
    return payload;
  } catch (error) {
    throw new CodeyardError('UNAUTHENTICATED', `invalid token: ${reasonFor(error)}`, { cause: error });
  }
}

function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim "${error.claim}" ${error.reason}`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown signing key';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  return 'rejected';
}
