import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/** A minimal Server-Sent Events client over node:http, for watch tests against a real listener. */
export class SseStream {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  ended = false;

  constructor(readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.feed(chunk));
    const finish = (): void => {
      this.ended = true;
      this.notify();
    };
    response.on('end', finish);
    response.on('close', finish);
    response.on('error', finish);
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** Events that are not BOOKMARKs. */
  changes(): SseEvent[] {
    return this.events.filter((e) => e.event !== 'BOOKMARK');
  }

  /** Resolves when `predicate` holds for the events so far (or rejects after `timeoutMs`). */
  async waitFor(predicate: (events: SseEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (this.ended)
        throw new Error(
          `stream ended before the condition held; got ${JSON.stringify(this.events.map((e) => [e.event, e.id]))}`,
        );
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`timed out; got ${JSON.stringify(this.events.map((e) => [e.event, e.id]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitForEnd(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  pause(): void {
    this.response.pause();
  }

  resume(): void {
    this.response.resume();
  }

  close(): void {
    this.response.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let boundary = this.buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      const event = parseBlock(block);
      if (event) this.events.push(event);
      boundary = this.buffer.indexOf('\n\n');
    }
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function parseBlock(block: string): SseEvent | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length === 0) return undefined;
  return { ...(id === undefined ? {} : { id }), event, data: JSON.parse(data.join('\n')) as unknown };
}

/** Opens a watch; resolves once the response headers arrived. Non-200 answers keep their JSON body in `errorBody`. */
export function openWatch(options: {
  port: number;
  token: string;
  query?: string;
  lastEventId?: string;
}): Promise<{ stream: SseStream; errorBody?: { code: string; message: string; field?: string } }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: options.port,
        path: `/v1/codespaces?watch=1${options.query ? `&${options.query}` : ''}`,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'text/event-stream',
          ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
        },
      },
      (response) => {
        if (response.statusCode === 200) {
          resolve({ stream: new SseStream(response) });
          return;
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ stream: new SseStream(response), errorBody: JSON.parse(body) }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}
