import { CodeyardError } from '../../model/errors.js';

/**
 * A node learns its name (its EC2 instance id) from the instance metadata service, IMDSv2
 * only: PUT a session token, then GET with it. IMDSv1 (no token) is refused by the launch
 * template, which also keeps the hop limit at 1 so containers cannot reach IMDS.
 */

export const imdsBaseUrlDefault = 'http://169.254.169.254';
/** IMDS answers in milliseconds on an instance; a slow answer means we are not on one. */
export const imdsRequestTimeoutMsDefault = 2_000;
/** The token is used at once; a short life keeps a leaked one worthless. */
export const imdsTokenTtlSecondsDefault = 60;

export interface InstanceIdentityOptions {
  /** Config override (tests, non-EC2 hosts): skips IMDS entirely. */
  readonly instanceId?: string;
  readonly imdsBaseUrl?: string;
  readonly requestTimeoutMs?: number;
  readonly tokenTtlSeconds?: number;
}

const instanceIdPattern = /^i-[0-9a-f]{8,32}$/;

export async function resolveInstanceId(options: InstanceIdentityOptions = {}): Promise<string> {
  if (options.instanceId !== undefined && options.instanceId !== '') return options.instanceId;
  const base = (options.imdsBaseUrl ?? imdsBaseUrlDefault).replace(/\/+$/, '');
  const timeoutMs = options.requestTimeoutMs ?? imdsRequestTimeoutMsDefault;
  const ttlSeconds = options.tokenTtlSeconds ?? imdsTokenTtlSecondsDefault;
  try {
    const tokenResponse = await fetch(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!tokenResponse.ok) throw new Error(`token request answered ${tokenResponse.status}`);
    const token = (await tokenResponse.text()).trim();
    const idResponse = await fetch(`${base}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': token },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!idResponse.ok) throw new Error(`instance-id request answered ${idResponse.status}`);
    const instanceId = (await idResponse.text()).trim();
    if (!instanceIdPattern.test(instanceId))
      throw new Error(`unexpected instance id ${JSON.stringify(instanceId.slice(0, 40))}`);
    return instanceId;
  } catch (error) {
    throw new CodeyardError(
      'FLEET_UNAVAILABLE',
      `cannot learn the instance id from IMDSv2 at ${base} (set the node name in config when not on EC2): ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
