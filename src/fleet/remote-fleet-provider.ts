/**
 * A `FleetProvider` whose fleet is owned by another process and reached over HTTP: the client of
 * `startFleetService` (src/fleet/local/fleet-service.ts). It lets separate orchestrator replicas
 * share one local fleet — each can fence a node and see the termination confirmed — as replicas
 * share one Auto Scaling Group in production. Every call is bounded by a timeout; a failed or
 * refused call is a `FLEET_UNAVAILABLE` error, which the fencer retries.
 */
import { CodeyardError, type ErrorCode } from '../model/errors.js';
import type {
  FleetDescription,
  FleetProvider,
  LifecycleActionStatus,
  TerminationLifecycle,
} from './fleet-provider.js';

export const remoteFleetCallTimeoutMsDefault = 5_000;

export interface RemoteFleetProviderOptions {
  /** The fleet name its nodes report. */
  readonly fleet: string;
  /** The fleet service, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly secret: string;
  readonly callTimeoutMs?: number;
}

export class RemoteFleetProvider implements FleetProvider, TerminationLifecycle {
  readonly fleet: string;

  constructor(private readonly options: RemoteFleetProviderOptions) {
    this.fleet = options.fleet;
  }

  async describe(): Promise<FleetDescription> {
    const description = await this.call<FleetDescription>('GET', '/v1/fleet');
    if (description.fleet !== this.fleet) {
      throw new CodeyardError(
        'FLEET_UNAVAILABLE',
        `fleet service at ${this.options.url} serves fleet ${description.fleet}, not ${this.fleet}`,
      );
    }
    return description;
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    await this.call('PUT', '/v1/fleet/desired-capacity', { desired });
  }

  async terminate(nodeName: string, options: { decrementDesiredCapacity: boolean }): Promise<void> {
    await this.call('POST', `${instancePath(nodeName)}/terminate`, {
      decrementDesiredCapacity: options.decrementDesiredCapacity,
    });
  }

  async recordLifecycleActionHeartbeat(nodeName: string): Promise<LifecycleActionStatus> {
    const answer = await this.call<{ status: LifecycleActionStatus }>(
      'POST',
      `${instancePath(nodeName)}/lifecycle-heartbeat`,
    );
    return answer.status;
  }

  async completeLifecycleAction(
    nodeName: string,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<LifecycleActionStatus> {
    const answer = await this.call<{ status: LifecycleActionStatus }>(
      'POST',
      `${instancePath(nodeName)}/complete-lifecycle`,
      { result },
    );
    return answer.status;
  }

  /** Nothing runs in the background: the fleet's processes belong to the service's owner. */
  async close(): Promise<void> {}

  private async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.options.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.secret}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.callTimeoutMs ?? remoteFleetCallTimeoutMsDefault),
      });
    } catch (error) {
      throw new CodeyardError('FLEET_UNAVAILABLE', `fleet service ${method} ${path}: ${String(error)}`, {
        cause: error,
      });
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) {
      const answer = (parsed ?? {}) as { code?: ErrorCode; message?: string };
      // Refusals of the request itself keep their code; anything else means the fleet is not usable now.
      const code: ErrorCode =
        answer.code === 'VALIDATION_FAILED' ||
        answer.code === 'INVALID_PARAMETER' ||
        answer.code === 'NOT_FOUND'
          ? answer.code
          : 'FLEET_UNAVAILABLE';
      throw new CodeyardError(
        code,
        `fleet service ${method} ${path}: HTTP ${response.status} ${answer.message ?? text.slice(0, 200)}`,
      );
    }
    return parsed as T;
  }
}

function instancePath(nodeName: string): string {
  return `/v1/fleet/instances/${encodeURIComponent(nodeName)}`;
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
