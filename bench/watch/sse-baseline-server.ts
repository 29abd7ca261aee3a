/**
 * The baseline for the SSE fan-out: the least a server can do — one raw Redis SUBSCRIBE, each
 * message written as-is as an SSE event to every open `GET /watch` response (node:http, no
 * framework, no auth, no parsing). Started pinned to the system-under-test core by `run.ts`;
 * reports its port over IPC.
 */
import { Redis } from 'ioredis';
import { createServer, type ServerResponse } from 'node:http';
import { baselineChannel } from './protocol.js';

const redisUrl = process.env.BENCH_REDIS_URL ?? '';
const streams = new Set<ServerResponse>();
let eventId = 0;

const subscriber = new Redis(redisUrl);
subscriber.on('message', (_channel: string, message: string) => {
  eventId += 1;
  const chunk = `id: ${eventId}\nevent: MODIFIED\ndata: ${message}\n\n`;
  for (const stream of streams) stream.write(chunk);
});

const server = createServer((request, response) => {
  if (request.url !== '/watch') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  response.write(': open\n\n');
  streams.add(response);
  response.on('close', () => streams.delete(response));
});

await subscriber.subscribe(baselineChannel);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({
    kind: 'listening',
    port: typeof address === 'object' && address !== null ? address.port : 0,
  });
});
process.once('SIGTERM', () => {
  for (const stream of streams) stream.destroy();
  server.close();
  subscriber.disconnect();
  process.exit(0);
});
process.once('disconnect', () => process.exit(0));
