import { createHmac, timingSafeEqual } from 'node:crypto';
import { LruCache } from '../shared/lru-cache.js';

/** A proxy-signed session: who may use which codespace until when. */
export interface Session {
  readonly user: string;
  readonly codespace: string;
  readonly expiresAtMs: number;
}

const sessionFormatVersion = 'v1';
const macBytes = 32;
/** Longer values are not ours: refuse before hashing attacker-sized input. */
export const sessionValueMaxLength = 512;
export const verifiedSessionCacheMaxEntries = 10_000;

/**
 * Signs and verifies session cookie values: `v1.<base64url(user\ncodespace\nexpSeconds)>.<base64url(HMAC-SHA256)>`.
 * The secret never leaves the node, so a session survives the orchestrator being away; the
 * short-lived access token is needed only once. Verified values are cached (LRU) so a request
 * costs a Map lookup, not an HMAC.
 */
export class SessionCodec {
  private readonly verified = new LruCache<string, Session>(verifiedSessionCacheMaxEntries);

  constructor(private readonly secret: Buffer) {
    if (secret.length < 32) throw new RangeError('session secret must be at least 32 bytes');
  }

  sign(session: Session): string {
    const payload = Buffer.from(
      `${session.user}\n${session.codespace}\n${Math.floor(session.expiresAtMs / 1000)}`,
    ).toString('base64url');
    const signed = `${sessionFormatVersion}.${payload}`;
    return `${signed}.${this.mac(signed).toString('base64url')}`;
  }

  /** The session a cookie value holds, or undefined when it is forged, damaged or expired. */
  verify(value: string, nowMs: number): Session | undefined {
    let session = this.verified.get(value);
    if (session === undefined) {
      session = this.verifyUncached(value);
      if (session === undefined) return undefined;
      this.verified.set(value, session);
    }
    return session.expiresAtMs > nowMs ? session : undefined;
  }

  private verifyUncached(value: string): Session | undefined {
    if (value.length > sessionValueMaxLength) return undefined;
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] !== sessionFormatVersion) return undefined;
    const mac = Buffer.from(parts[2]!, 'base64url');
    if (mac.length !== macBytes) return undefined;
    if (!timingSafeEqual(mac, this.mac(`${parts[0]}.${parts[1]}`))) return undefined;
    const fields = Buffer.from(parts[1]!, 'base64url').toString('utf8').split('\n');
    if (fields.length !== 3) return undefined;
    const expiresAtSeconds = Number(fields[2]);
    if (!fields[0] || !fields[1] || !Number.isSafeInteger(expiresAtSeconds)) return undefined;
    return { user: fields[0], codespace: fields[1], expiresAtMs: expiresAtSeconds * 1000 };
  }

  private mac(signed: string): Buffer {
    return createHmac('sha256', this.secret).update(signed).digest();
  }
}
