import { issueAgentToken } from '../tokens/issue-token.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { agentTokenTtlSeconds, nodeAudience } from '../tokens/token-kinds.js';

/**
 * A signed agent token is reused for this long, half its lifetime: it still has half its life
 * left when last sent. (Signing one per command costs a signature each; a burst of commands to
 * many nodes — orphan removal, a resync after a leader change — multiplied it.)
 */
export const agentTokenReuseMs = (agentTokenTtlSeconds * 1000) / 2;
/** At most this many nodes' tokens are kept (one per node and epoch); beyond, the cache starts afresh. */
export const agentTokenCacheMaxEntries = 10_000;

interface CachedToken {
  readonly token: Promise<string>;
  readonly issuedAtMs: number;
  /** The ring's active key when signed: a rotation signs afresh. */
  readonly key: unknown;
}

/**
 * The token for commands to one node under one leader epoch (audience = the node, claim = the
 * epoch). Tokens carry no per-command claim and agents check no nonce, so one serves every
 * command to that node while it is fresh.
 */
export class AgentTokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly keyRing: SigningKeyRing,
    private readonly nowMs: () => number = Date.now,
  ) {}

  tokenFor(nodeName: string, epoch: number): Promise<string> {
    const cacheKey = `${epoch}\u0000${nodeName}`;
    const nowMs = this.nowMs();
    const key = this.keyRing.active;
    const cached = this.tokens.get(cacheKey);
    if (cached !== undefined && cached.key === key && nowMs - cached.issuedAtMs < agentTokenReuseMs) {
      return cached.token;
    }
    const token = issueAgentToken(
      this.keyRing,
      { audience: nodeAudience(nodeName), epoch },
      // Its lifetime runs on the same clock as its reuse.
      { nowSeconds: Math.floor(nowMs / 1000) },
    );
    // A failed signature is not kept.
    token.catch(() => {
      if (this.tokens.get(cacheKey)?.token === token) this.tokens.delete(cacheKey);
    });
    if (this.tokens.size >= agentTokenCacheMaxEntries) this.tokens.clear();
    this.tokens.set(cacheKey, { token, issuedAtMs: nowMs, key });
    return token;
  }
}
