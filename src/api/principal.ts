import type { Codespace } from '../model/codespace.js';
import type { ApiRole } from '../tokens/token-kinds.js';

/** Who is calling, from a verified API token. */
export interface Principal {
  readonly user: string;
  readonly role: ApiRole;
  /** A digest of the token itself: rate limits and watch caps are per token. */
  readonly tokenKey: string;
}

export function isAdmin(principal: Principal): boolean {
  return principal.role === 'admin';
}

/** Users see only their own codespaces; admins see all. */
export function canAccess(principal: Principal, codespace: Pick<Codespace, 'metadata'>): boolean {
  return isAdmin(principal) || codespace.metadata.owner === principal.user;
}
