import type { Codespace } from '../model/codespace.js';
import type { WatchEvent } from '../model/events.js';
import { CliError, exitCodeForStatus, exitCodes } from './cli-error.js';
import type { CliConnection } from './config.js';

export const requestTimeoutMs = 15_000;

export interface AccessGrant {
  url: string;
  token: string;
  expiresAt: string;
}

/** A thin typed client over the orchestrator's `/v1` API. Errors become `CliError`s with exit codes. */
export class ApiClient {
  constructor(private readonly connection: CliConnection) {}

  async createCodespace(body: unknown): Promise<Codespace> {
    return this.request<Codespace>('POST', '/v1/codespaces', body);
  }
  async listCodespaces(
    query: Record<string, string> = {},
  ): Promise<{ items: Codespace[]; metadata?: { resourceVersion?: string } }> {
    const search = new URLSearchParams(query).toString();
    return this.request('GET', `/v1/codespaces${search ? `?${search}` : ''}`);
  }
  async getCodespace(name: string): Promise<Codespace> {
    return this.request('GET', `/v1/codespaces/${encodeURIComponent(name)}`);
  }
  async setRunning(name: string, running: boolean): Promise<Codespace> {
    return this.request('PATCH', `/v1/codespaces/${encodeURIComponent(name)}`, { spec: { running } });
  }
  async deleteCodespace(name: string): Promise<unknown> {
    return this.request('DELETE', `/v1/codespaces/${encodeURIComponent(name)}`);
  }
  async access(name: string): Promise<AccessGrant> {
    return this.request('POST', `/v1/codespaces/${encodeURIComponent(name)}/access`, {});
  }
  async listNodes(): Promise<{ items: unknown[] }> {
    return this.request('GET', '/v1/nodes');
  }

  /** Server-Sent Events from the watch endpoint, until `signal` aborts. */
  async *watch(
    fromResourceVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent | { type: 'BOOKMARK'; resourceVersion: number }> {
    const response = await this.send(
      'GET',
      `/v1/codespaces?watch=1&resourceVersion=${encodeURIComponent(fromResourceVersion)}`,
      undefined,
      signal,
      {
        accept: 'text/event-stream',
      },
    );
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const parsed = parseSseFrame(frame);
        if (parsed) yield parsed;
      }
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body, AbortSignal.timeout(requestTimeoutMs));
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.connection.apiUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw new CliError(
        `cannot reach the codeyard API at ${this.connection.apiUrl} (${(error as Error).message}); is \`codeyard up\` running, or is --api-url right?`,
        exitCodes.unavailable,
        'UNREACHABLE',
      );
    }
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as {
        code?: string;
        message?: string;
        field?: string;
      };
      const where = problem.field ? ` (field ${problem.field})` : '';
      throw new CliError(
        `${problem.message ?? response.statusText}${where}`,
        exitCodeForStatus(response.status),
        problem.code ?? `HTTP_${response.status}`,
      );
    }
    return response;
  }
}

function parseSseFrame(
  frame: string,
): WatchEvent | { type: 'BOOKMARK'; resourceVersion: number } | undefined {
  let event = '';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trim();
  }
  if (!event || !data) return undefined;
  const payload = JSON.parse(data) as Record<string, unknown>;
  if (event === 'BOOKMARK')
    return { type: 'BOOKMARK', resourceVersion: Number(payload.resourceVersion ?? 0) };
  const object = payload as unknown as Codespace;
  return {
    type: event as WatchEvent['type'],
    resourceVersion: Number(object.metadata?.resourceVersion ?? 0),
    object,
  };
}
