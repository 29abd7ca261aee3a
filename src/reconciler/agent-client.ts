import type { EnsureRunningRequest, StopRequest } from '../model/agent-protocol.js';
import { CodeyardError, type ErrorCode } from '../model/errors.js';
import type { SigningKeyRing } from '../tokens/signing-keys.js';
import { AgentTokenCache } from './agent-token-cache.js';

/** Where a command goes and under which leader epoch it is sent. */
export interface AgentTarget {
  readonly nodeName: string;
  readonly agentUrl: string;
  readonly epoch: number;
}

/**
 * The orchestrator's side of the agent protocol (src/model/agent-protocol.ts). Every command is
 * idempotent and keyed by codespace uid. Failures are thrown: `CodeyardError` STALE_EPOCH /
 * STALE_GENERATION when the node refuses the command as too old, anything else for a node that
 * did not answer well (the work queue retries).
 */
export interface AgentClient {
  ensureRunning(target: AgentTarget, uid: string, request: EnsureRunningRequest): Promise<void>;
  stop(target: AgentTarget, uid: string, request: StopRequest): Promise<void>;
  remove(target: AgentTarget, uid: string): Promise<void>;
}

/** Bound on one command, well below the leader's renew deadline so a slow node cannot stall a pass. */
export const agentCallTimeoutMsDefault = 5_000;

const refusalCodes: ReadonlySet<ErrorCode> = new Set(['STALE_EPOCH', 'STALE_GENERATION']);

export class HttpAgentClient implements AgentClient {
  private readonly tokens: AgentTokenCache;
  private readonly timeoutMs: number;

  constructor(options: { keyRing: SigningKeyRing; timeoutMs?: number }) {
    this.tokens = new AgentTokenCache(options.keyRing);
    this.timeoutMs = options.timeoutMs ?? agentCallTimeoutMsDefault;
  }

  ensureRunning(target: AgentTarget, uid: string, request: EnsureRunningRequest): Promise<void> {
    return this.call(target, 'PUT', `/v1/codespaces/${encodeURIComponent(uid)}`, request);
  }

  stop(target: AgentTarget, uid: string, request: StopRequest): Promise<void> {
    return this.call(target, 'POST', `/v1/codespaces/${encodeURIComponent(uid)}/stop`, request);
  }

  remove(target: AgentTarget, uid: string): Promise<void> {
    return this.call(target, 'DELETE', `/v1/codespaces/${encodeURIComponent(uid)}`, undefined);
  }

  /** The node takes no new codespaces (termination hook); its heartbeats then say `draining`. */
  drain(target: AgentTarget): Promise<void> {
    return this.call(target, 'POST', '/v1/drain', undefined);
  }

  private async call(target: AgentTarget, method: string, path: string, body: unknown): Promise<void> {
    const token = await this.tokens.tokenFor(target.nodeName, target.epoch);
    const url = `${target.agentUrl.replace(/\/+$/, '')}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new AgentUnreachableError(target.nodeName, `${method} ${path}`, error);
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return;
    const code = errorCodeOf(text);
    if (code !== undefined && refusalCodes.has(code)) {
      throw new CodeyardError(code, `node ${target.nodeName} refused ${method} ${path}: ${messageOf(text)}`);
    }
    throw new AgentCallError(target.nodeName, `${method} ${path}`, response.status, messageOf(text));
  }
}

/** The node did not answer (connection refused, reset, timeout). */
export class AgentUnreachableError extends Error {
  constructor(
    readonly nodeName: string,
    command: string,
    cause: unknown,
  ) {
    super(
      `node ${nodeName} did not answer ${command}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.name = 'AgentUnreachableError';
  }
}

/** The node answered with an error other than a refusal as too old. */
export class AgentCallError extends Error {
  constructor(
    readonly nodeName: string,
    command: string,
    readonly status: number,
    detail: string,
  ) {
    super(`node ${nodeName} answered ${status} to ${command}: ${detail}`);
    this.name = 'AgentCallError';
  }
}

function parse(text: string): { code?: unknown; message?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as { code?: unknown; message?: unknown })
      : undefined;
  } catch {
    return undefined;
  }
}

function errorCodeOf(text: string): ErrorCode | undefined {
  const code = parse(text)?.code;
  return typeof code === 'string' ? (code as ErrorCode) : undefined;
}

function messageOf(text: string): string {
  const message = parse(text)?.message;
  return typeof message === 'string' ? message : text.slice(0, 200);
}
