import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

/**
 * The bare upstream every proxy benchmark contender forwards to: a node:http server answering
 * every request with a small fixed body, and a WebSocket echo server on the same port
 * (permessage-deflate off, as the node proxy negotiates it away). Run as a child process
 * (`tsx bench/lib/bench-upstream.ts <port>`) so its CPU time is its own.
 */
export const upstreamBody = Buffer.from('hello from the bench upstream, a small body of some 64 bytes!!\n');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: bench-upstream.ts <port>');

const server = createServer((req, res) => {
  // Drain any body, answer with the fixed one.
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': upstreamBody.length });
  res.end(upstreamBody);
});
server.keepAliveTimeout = 65_000;
const echo = new WebSocketServer({ server, perMessageDeflate: false });
echo.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => socket.terminate());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
