/**
 * Classifying Auto Scaling API errors. The SDK names an error after the service's error code
 * (`ThrottlingException`, `Throttling`, `ValidationError`, …); most of what we must tell apart
 * arrives as a `ValidationError` whose message is the only distinction.
 */

interface AwsErrorShape {
  readonly name?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
}

function codeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const e = error as AwsErrorShape;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return typeof e.Code === 'string' ? e.Code : '';
}

function messageOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const message = (error as AwsErrorShape).message;
  return typeof message === 'string' ? message : '';
}

const retryableCodes = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  // Another scaling activity holds the group for a moment.
  'ResourceContention',
  'ScalingActivityInProgress',
]);

export function isRetryable(error: unknown): boolean {
  return retryableCodes.has(codeOf(error));
}

/** The hook is no longer waiting: it timed out, or the action was completed already. */
export function isNoActiveLifecycleAction(error: unknown): boolean {
  return codeOf(error) === 'ValidationError' && /no active lifecycle action/i.test(messageOf(error));
}

const alreadyGoing =
  /already (in )?terminat|in terminating state|not part of auto ?scaling group|instance id not found|no managed instance found|is not in inservice or standby/i;

/**
 * The instance is already on its way out, or is not (any longer) in the group: for `terminate`
 * that is the outcome asked for.
 */
export function isAlreadyTerminatingOrGone(error: unknown): boolean {
  if (codeOf(error) !== 'ValidationError' || violatesMinSize(error)) return false;
  // Observed wordings: "Instance Id not found - No managed instance found for instance ID …",
  // "The instance … is not part of Auto Scaling group …", "The instance … is not in InService or Standby".
  return alreadyGoing.test(messageOf(error));
}

/**
 * "Currently, desiredSize equals minSize (n). Terminating instance without replacement will
 * violate group's min size constraint": the instance was not terminated; asking again without
 * the decrement terminates it and launches a replacement.
 */
export function violatesMinSize(error: unknown): boolean {
  return codeOf(error) === 'ValidationError' && /min size constraint|equals minsize/i.test(messageOf(error));
}

export function describeError(error: unknown): string {
  const code = codeOf(error);
  return code ? `${code}: ${messageOf(error)}` : messageOf(error);
}
