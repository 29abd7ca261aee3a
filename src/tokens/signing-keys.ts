import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';
import { randomUUID } from 'node:crypto';
import { tokenAlgorithm } from './token-kinds.js';

/** One Ed25519 key pair; `kid` names it in token headers and in the JWKS. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly createdAtMs: number;
}

/** Serializable form, for the key file. */
export interface StoredSigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAtMs: number;
}

export async function generateSigningKey(nowMs: number): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(tokenAlgorithm, {
    crv: 'Ed25519',
    extractable: true,
  });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: tokenAlgorithm, use: 'sig' };
  return { kid, privateKey, publicJwk, createdAtMs: nowMs };
}

export async function exportSigningKey(key: SigningKey): Promise<StoredSigningKey> {
  return {
    kid: key.kid,
    privateJwk: await exportJWK(key.privateKey),
    publicJwk: key.publicJwk,
    createdAtMs: key.createdAtMs,
  };
}

export async function importSigningKey(stored: StoredSigningKey): Promise<SigningKey> {
  const privateKey = (await importJWK(stored.privateJwk, tokenAlgorithm)) as CryptoKey;
  return { kid: stored.kid, privateKey, publicJwk: stored.publicJwk, createdAtMs: stored.createdAtMs };
}

/**
 * The keys of one issuer. The newest key signs; older ones stay published so tokens they
 * signed keep verifying until they expire — rotation never drops a session.
 */
export class SigningKeyRing {
  private keys: SigningKey[];

  constructor(keys: readonly SigningKey[]) {
    if (keys.length === 0) throw new Error('a key ring needs at least one key');
    this.keys = [...keys].sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  get active(): SigningKey {
    return this.keys[this.keys.length - 1]!;
  }

  all(): readonly SigningKey[] {
    return this.keys;
  }

  /** Adds a new active key and drops keys older than `retainMs` (but never the active one). */
  rotate(newKey: SigningKey, options: { nowMs: number; retainMs: number }): void {
    this.keys = [...this.keys.filter((k) => options.nowMs - k.createdAtMs < options.retainMs), newKey];
  }

  /** The public JSON Web Key Set nodes fetch and cache. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }
}
