import { codespaceNameMaxLength, imageReferenceMaxLength } from './limits.js';

/** RFC 1123 DNS label, at most 40 characters: safe as a subdomain, a Docker name part and a Redis key part. */
export const dnsLabelPattern = `^[a-z0-9]([-a-z0-9]{0,${codespaceNameMaxLength - 2}}[a-z0-9])?$`;
const dnsLabel = new RegExp(dnsLabelPattern);

export function isDnsLabel(value: string): boolean {
  return value.length <= codespaceNameMaxLength && dnsLabel.test(value);
}

/**
 * Docker image reference: [registry[:port]/]path[:tag][@digest]. Stricter than Docker
 * (lower-case path components only) so that nothing odd reaches the engine.
 */
export const imageReferencePattern =
  '^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$';
const imageReference = new RegExp(imageReferencePattern);

export function isImageReference(value: string): boolean {
  return value.length <= imageReferenceMaxLength && imageReference.test(value);
}

/** Label keys and values follow Kubernetes' shape, without prefixes. */
export const labelKeyPattern = '^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$';
export const labelValuePattern = '^([a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?)?$';
export const envNamePattern = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
/** User ids: what tokens carry in `sub`. */
export const userIdPattern = '^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$';
