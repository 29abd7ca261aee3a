/**
 * A small typed client of the orchestrator's `/v1` API for end-to-end tests, a helper that opens
 * a codespace through its node proxy the way a browser does (access URL → cookie), and `waitFor`,
 * which polls until a predicate holds and says what it last saw when it gives up.
 */
import type { Codespace } from '../../src/model/codespace.js';

export const waitTimeoutMsDefault = 90_000;
export const waitIntervalMsDefault = 1_000;
const requestTimeoutMs = 15_000;

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

export interface CodespaceSpecInput {
  readonly image?: string;
  readonly running?: boolean;
  readonly idleTimeoutSeconds?: number;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  async create(name: string, spec: CodespaceSpecInput): Promise<Codespace> {
    const response = await this.request<Codespace>('POST', '/v1/codespaces', { metadata: { name }, spec });
    return expectStatus(response, [201], `create ${name}`);
  }

  get(name: string): Promise<ApiResponse<Codespace>> {
    return this.request<Codespace>('GET', `/v1/codespaces/${name}`);
  }

  async mustGet(name: string): Promise<Codespace> {
    return expectStatus(await this.get(name), [200], `get ${name}`);
  }

  /** Every codespace this token may see (an admin sees all). */
  async list(): Promise<Codespace[]> {
    const response = await this.request<{ items: Codespace[] }>('GET', '/v1/codespaces?limit=1000');
    return expectStatus(response, [200], 'list').items;
  }

  async stop(name: string): Promise<Codespace> {
    return expectStatus(
      await this.request<Codespace>('POST', `/v1/codespaces/${name}/stop`),
      [200],
      `stop ${name}`,
    );
  }

  async start(name: string): Promise<Codespace> {
    return expectStatus(
      await this.request<Codespace>('POST', `/v1/codespaces/${name}/start`),
      [200],
      `start ${name}`,
    );
  }

  async delete(name: string): Promise<void> {
    expectStatus(await this.request('DELETE', `/v1/codespaces/${name}`), [200, 202], `delete ${name}`);
  }

  async access(name: string): Promise<{ url: string; token: string }> {
    return expectStatus(
      await this.request<{ url: string; token: string }>('POST', `/v1/codespaces/${name}/access`),
      [200],
      `access ${name}`,
    );
  }
}

function expectStatus<T>(response: ApiResponse<T>, statuses: readonly number[], what: string): T {
  if (!statuses.includes(response.status)) {
    throw new Error(`${what}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body;
}

/**
 * A browser's view of one codespace through its node proxy: the access URL (carrying
 * `?codeyard_token=`) answers 302 with the proxy's session cookie; later requests send it.
 */
export class ProxySession {
  private constructor(
    /** `http://127.0.0.1:<proxyPort>/cs/<name>` without the trailing slash. */
    readonly base: string,
    private readonly cookie: string,
  ) {}

  static async open(access: { url: string }): Promise<ProxySession> {
    const response = await fetch(access.url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    await response.body?.cancel();
    if (response.status !== 302) throw new Error(`access URL answered ${response.status}, not 302`);
    const cookies = response.headers.getSetCookie().map((c) => c.split(';')[0]!);
    if (cookies.length === 0) throw new Error('access URL set no cookie');
    const url = new URL(access.url);
    url.search = '';
    return new ProxySession(url.toString().replace(/\/$/, ''), cookies.join('; '));
  }

  async fetch(path: string, init: { method?: string; body?: string } = {}): Promise<ApiResponse<string>> {
    const response = await fetch(`${this.base}${path}`, {
      method: init.method ?? 'GET',
      headers: { cookie: this.cookie },
      redirect: 'manual',
      ...(init.body === undefined ? {} : { body: init.body }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    return { status: response.status, body: await response.text() };
  }
}

/**
 * Polls `probe` until it returns something other than undefined (or throws only transiently),
 * then returns it. On timeout the error names `what` and the last value or error seen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? waitTimeoutMsDefault);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = options.describe ? await options.describe().catch(String) : '';
      throw new Error(
        `timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}${detail ? `: ${detail}` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? waitIntervalMsDefault);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `{ Running: 40, Starting: 5 }`: a compact picture for failure messages. */
export function phaseCounts(codespaces: readonly Codespace[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of codespaces) counts[c.status.phase] = (counts[c.status.phase] ?? 0) + 1;
  return counts;
}
