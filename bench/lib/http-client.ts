import { Agent, request } from 'node:http';

/** Requests a single reply may take before the benchmark calls it failed. */
export const httpRequestTimeoutMs = 10_000;

/** Keep-alive connections, as a real API client holds them (no TCP handshake per request). */
export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpReply {
  status: number;
  body: string;
}

export function httpRequest(options: {
  method: string;
  url: string;
  headers?: Readonly<Record<string, string>>;
  body?: unknown;
  contentType?: string;
}): Promise<HttpReply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      options.url,
      {
        method: options.method,
        agent: keepAliveAgent,
        timeout: httpRequestTimeoutMs,
        headers: {
          ...options.headers,
          ...(payload === undefined
            ? {}
            : {
                'content-type': options.contentType ?? 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${options.method} ${options.url} timed out`)));
    req.once('error', reject);
    req.end(payload);
  });
}
