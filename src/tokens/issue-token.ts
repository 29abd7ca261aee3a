import { SignJWT } from 'jose';
import type { SigningKeyRing } from './signing-keys.js';
import {
  accessTokenTtlSecondsDefault,
  agentTokenTtlSeconds,
  apiAudience,
  apiTokenTtlSecondsDefault,
  defaultIssuer,
  tokenAlgorithm,
  tokenKinds,
  type ApiRole,
} from './token-kinds.js';

interface IssueOptions {
  issuer?: string;
  nowSeconds?: number;
  ttlSeconds?: number;
}

async function sign(
  ring: SigningKeyRing,
  typ: string,
  claims: Record<string, unknown>,
  subjectAudience: { sub?: string; aud: string },
  options: IssueOptions & { ttlSeconds: number },
): Promise<string> {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const key = ring.active;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: tokenAlgorithm, kid: key.kid, typ })
    .setIssuer(options.issuer ?? defaultIssuer)
    .setAudience(subjectAudience.aud)
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + options.ttlSeconds);
  if (subjectAudience.sub) jwt.setSubject(subjectAudience.sub);
  return jwt.sign(key.privateKey);
}

export function issueApiToken(
  ring: SigningKeyRing,
  subject: { user: string; role: ApiRole },
  options: IssueOptions = {},
): Promise<string> {
  return sign(
    ring,
    tokenKinds.api.typ,
    { role: subject.role },
    { sub: subject.user, aud: apiAudience },
    {
      ...options,
      ttlSeconds: options.ttlSeconds ?? apiTokenTtlSecondsDefault,
    },
  );
}

export function issueAgentToken(
  ring: SigningKeyRing,
  command: { audience: string; epoch: number },
  options: IssueOptions = {},
): Promise<string> {
  return sign(
    ring,
    tokenKinds.agent.typ,
    { epoch: command.epoch },
    { aud: command.audience },
    {
      ...options,
      ttlSeconds: options.ttlSeconds ?? agentTokenTtlSeconds,
    },
  );
}

export function issueAccessToken(
  ring: SigningKeyRing,
  grant: { user: string; codespace: string; audience: string },
  options: IssueOptions = {},
): Promise<string> {
  return sign(
    ring,
    tokenKinds.access.typ,
    { cs: grant.codespace },
    { sub: grant.user, aud: grant.audience },
    {
      ...options,
      ttlSeconds: options.ttlSeconds ?? accessTokenTtlSecondsDefault,
    },
  );
}
