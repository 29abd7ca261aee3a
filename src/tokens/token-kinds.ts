/**
 * Every token codeyard issues is an EdDSA (Ed25519) JWT whose `typ` header names its kind,
 * so a token of one kind is never accepted where another is expected.
 */
export const tokenAlgorithm = 'EdDSA';
export const defaultIssuer = 'codeyard';

export const tokenKinds = {
  /** A person or script calling the orchestrator API. `aud` = apiAudience. */
  api: { typ: 'codeyard-api+jwt' },
  /** The leader commanding one node agent. `aud` = nodeAudience(node); carries `epoch`. */
  agent: { typ: 'codeyard-agent+jwt' },
  /** A user opening one codespace through a node proxy. `aud` = node or fleet audience. */
  access: { typ: 'codeyard-access+jwt' },
} as const;
export type TokenKind = keyof typeof tokenKinds;

export const apiAudience = 'codeyard-api';
export function nodeAudience(nodeName: string): string {
  return `node:${nodeName}`;
}
export function fleetAudience(fleet: string): string {
  return `fleet:${fleet}`;
}

export const apiTokenTtlSecondsDefault = 24 * 3600;
export const agentTokenTtlSeconds = 60;
export const accessTokenTtlSecondsDefault = 300;

export type ApiRole = 'user' | 'admin';

export interface ApiTokenClaims {
  sub: string;
  role: ApiRole;
}
export interface AgentTokenClaims {
  /** The leader epoch the command was issued under; nodes refuse lower ones. */
  epoch: number;
}
export interface AccessTokenClaims {
  sub: string;
  /** The codespace name this token opens, and nothing else. */
  cs: string;
}
