import { createServer } from 'node:net';

/**
 * A loopback port nobody listens on right now: bind port 0, read what the kernel chose, close.
 * Another process could take it before the node binds it; the node then fails to start, its
 * process exits, and the provider replaces it — so the race costs a retry, not correctness.
 */
export function freeLoopbackPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
