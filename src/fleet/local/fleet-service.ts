/**
 * A local fleet behind a small loopback HTTP service, so that several orchestrator processes can
 * share one fleet the way replicas share one Auto Scaling Group: any of them can terminate
 * (fence) a node for real and see it confirmed in `describe`. The service runs where the fleet's
 * node processes are owned (a test process, `codeyard up`); orchestrators reach it through
 * `RemoteFleetProvider` (`fleetProvider: 'local-service'`). Every request carries the shared
 * secret as a bearer token.
 *
 *   GET  /v1/fleet                                       → FleetDescription
 *   PUT  /v1/fleet/desired-capacity                      { desired }
 *   POST /v1/fleet/instances/<node>/terminate             { decrementDesiredCapacity }
 *   POST /v1/fleet/instances/<node>/lifecycle-heartbeat  → { status }
 *   POST /v1/fleet/instances/<node>/complete-lifecycle   { result } → { status }
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodeyardError, httpStatusFor } from '../../model/errors.js';
import type { FleetProvider, TerminationLifecycle } from '../fleet-provider.js';

/** Node names as agents report them (see the agent's config). */
const nodeNamePattern = /^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$/;
/** Requests carry a few small JSON fields. */
export const fleetServiceBodyMaxBytes = 4_096;
export const fleetServiceSecretMinLength = 16;
/** A request that has not finished within this is cut off (keeps a stuck client from holding a socket). */
export const fleetServiceRequestTimeoutMs = 30_000;

export interface FleetServiceOptions {
  readonly provider: FleetProvider & Partial<TerminationLifecycle>;
  readonly secret: string;
  /** Loopback by default: the service can terminate every node of the fleet. */
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
}

export interface FleetService {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string;
  close(): Promise<void>;
}

type Route = (request: { nodeName?: string; body: Record<string, unknown> }) => Promise<unknown>;

export async function startFleetService(options: FleetServiceOptions): Promise<FleetService> {
  if (options.secret.length < fleetServiceSecretMinLength) {
    throw new CodeyardError(
      'VALIDATION_FAILED',
      `fleet service secret must be at least ${fleetServiceSecretMinLength} characters`,
      { field: 'secret' },
    );
  }
  const { provider } = options;
  const expected = Buffer.from(`Bearer ${options.secret}`);
  const lifecycle = (): TerminationLifecycle => {
    if (!provider.recordLifecycleActionHeartbeat || !provider.completeLifecycleAction) {
      throw new CodeyardError('NOT_FOUND', `fleet ${provider.fleet} has no termination lifecycle hook`);
    }
    return provider as TerminationLifecycle;
  };
  const routes: Record<string, Route> = {
    'GET fleet': () => provider.describe(),
    'PUT desired-capacity': async ({ body }) => {
      await provider.setDesiredCapacity(integerField(body, 'desired'));
      return {};
    },
    'POST terminate': async ({ nodeName, body }) => {
      await provider.terminate(nodeName!, {
        decrementDesiredCapacity: body.decrementDesiredCapacity === true,
      });
      return {};
    },
    'POST lifecycle-heartbeat': async ({ nodeName }) => ({
      status: await lifecycle().recordLifecycleActionHeartbeat(nodeName!),
    }),
    'POST complete-lifecycle': async ({ nodeName, body }) => {
      const result = body.result;
      if (result !== 'CONTINUE' && result !== 'ABANDON') {
        throw new CodeyardError('VALIDATION_FAILED', 'result must be CONTINUE or ABANDON', {
          field: 'result',
        });
      }
      return { status: await lifecycle().completeLifecycleAction(nodeName!, result) };
    },
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const authorization = Buffer.from(request.headers.authorization ?? '');
    if (authorization.length !== expected.length || !timingSafeEqual(authorization, expected)) {
      throw new CodeyardError('UNAUTHENTICATED', 'missing or wrong fleet service secret');
    }
    const { routeKey, nodeName } = routeOf(request.method ?? 'GET', request.url ?? '/');
    const route = routes[routeKey];
    if (route === undefined)
      throw new CodeyardError('NOT_FOUND', `no route ${request.method} ${request.url}`);
    const body = await readJsonBody(request);
    send(response, 200, await route({ ...(nodeName !== undefined ? { nodeName } : {}), body }));
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const coded =
        error instanceof CodeyardError
          ? error
          : new CodeyardError('FLEET_UNAVAILABLE', `fleet call failed: ${String(error)}`);
      send(response, httpStatusFor(coded.code), { code: coded.code, message: coded.message });
    });
  });
  server.requestTimeout = fleetServiceRequestTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function routeOf(method: string, rawUrl: string): { routeKey: string; nodeName?: string } {
  const path = new URL(rawUrl, 'http://fleet.invalid').pathname;
  if (path === '/v1/fleet') return { routeKey: `${method} fleet` };
  if (path === '/v1/fleet/desired-capacity') return { routeKey: `${method} desired-capacity` };
  const match = /^\/v1\/fleet\/instances\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (match === null) return { routeKey: '' };
  const nodeName = decodeURIComponent(match[1]!);
  if (!nodeNamePattern.test(nodeName)) {
    throw new CodeyardError('INVALID_PARAMETER', `${JSON.stringify(nodeName)} is not a node name`, {
      field: 'nodeName',
    });
  }
  return { routeKey: `${method} ${match[2]}`, nodeName };
}

async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > fleetServiceBodyMaxBytes) {
      throw new CodeyardError('BODY_TOO_LARGE', `body above ${fleetServiceBodyMaxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new CodeyardError('INVALID_JSON', 'body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CodeyardError('INVALID_JSON', 'body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function integerField(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new CodeyardError('VALIDATION_FAILED', `${field} must be a non-negative integer`, { field });
  }
  return value;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
