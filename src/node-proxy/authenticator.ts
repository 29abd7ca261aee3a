import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { fleetAudience, nodeAudience, verifyToken } from '../tokens/index.js';
import { cookieValues, sessionCookieHeader, sessionCookieName, type CookiePolicy } from './cookies.js';
import type { Session, SessionCodec } from './session.js';

export interface AuthenticatorOptions {
  nodeName: string;
  fleet: string;
  /** Verification keys (a CachedKeySet's getKey in production). */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  sessions: SessionCodec;
  cookiePolicy: CookiePolicy;
  sessionTtlSeconds: number;
}

/**
 * Who is asking for a codespace: an access token once (a JWT, verified against the cached key
 * set), then the proxy's own session cookie (an HMAC, verified from an LRU on the hot path).
 */
export class Authenticator {
  private readonly audiences: string[];

  constructor(private readonly options: AuthenticatorOptions) {
    this.audiences = [nodeAudience(options.nodeName), fleetAudience(options.fleet)];
  }

  /** The session in the request's cookie for this codespace, if valid and for this codespace. */
  sessionFor(cookieHeader: string | undefined, codespace: string, nowMs: number): Session | undefined {
    for (const value of cookieValues(cookieHeader, sessionCookieName(this.options.cookiePolicy, codespace))) {
      const session = this.options.sessions.verify(value, nowMs);
      // The codespace is checked here too: under `__Host-codeyard_session` every subdomain's
      // cookie has the same name, and a cookie for one codespace must not open another.
      if (session && session.codespace === codespace) return session;
    }
    return undefined;
  }

  /** The user an access token names, when it is valid for this node and exactly this codespace. */
  async userFromToken(token: string, codespace: string): Promise<string | undefined> {
    try {
      const claims = await verifyToken(token, {
        kind: 'access',
        audience: this.audiences,
        keys: this.options.keys,
      });
      if (claims.cs !== codespace || typeof claims.sub !== 'string') return undefined;
      return claims.sub;
    } catch {
      return undefined;
    }
  }

  /** A fresh session for `user` on `codespace`, as a Set-Cookie header value. */
  issueSessionCookie(user: string, codespace: string, nowMs: number): string {
    const ttlSeconds = this.options.sessionTtlSeconds;
    const value = this.options.sessions.sign({ user, codespace, expiresAtMs: nowMs + ttlSeconds * 1000 });
    return sessionCookieHeader(this.options.cookiePolicy, codespace, value, ttlSeconds);
  }

  /** Sessions past half their life are re-issued on the next HTTP answer, so an active user never expires. */
  needsRefresh(session: Session, nowMs: number): boolean {
    return session.expiresAtMs - nowMs < (this.options.sessionTtlSeconds * 1000) / 2;
  }
}
