import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * The fleet whose join secret `presented` is, or undefined. Every configured secret is
 * compared, in constant time over equal-length digests, so timing reveals neither which
 * fleet matched nor how much of a secret was right.
 */
export function fleetForSecret(
  presented: string,
  secrets: Readonly<Record<string, string>>,
): string | undefined {
  const presentedDigest = digest(presented);
  let matched: string | undefined;
  for (const [fleet, secret] of Object.entries(secrets)) {
    if (timingSafeEqual(presentedDigest, digest(secret)) && matched === undefined) matched = fleet;
  }
  return matched;
}
