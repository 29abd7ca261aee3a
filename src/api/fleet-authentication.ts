import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A matcher from a presented join secret to its fleet, or undefined. The configured secrets are
 * hashed once, here: every heartbeat is checked (thousands a second), and hashing each configured
 * secret again per request was half the check's cost. Every configured digest is compared, in
 * constant time over equal-length digests, so timing reveals neither which fleet matched nor how
 * much of a secret was right.
 */
export function fleetSecretMatcher(
  secrets: Readonly<Record<string, string>>,
): (presented: string) => string | undefined {
  const digests = Object.entries(secrets).map(([fleet, secret]) => ({ fleet, digest: digest(secret) }));
  return (presented) => {
    const presentedDigest = digest(presented);
    let matched: string | undefined;
    for (const entry of digests) {
      if (timingSafeEqual(presentedDigest, entry.digest) && matched === undefined) matched = entry.fleet;
    }
    return matched;
  };
}

/** The fleet whose join secret `presented` is, or undefined (one-off; see `fleetSecretMatcher`). */
export function fleetForSecret(
  presented: string,
  secrets: Readonly<Record<string, string>>,
): string | undefined {
  return fleetSecretMatcher(secrets)(presented);
}
