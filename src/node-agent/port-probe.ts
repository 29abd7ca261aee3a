import { createServer } from 'node:net';

/**
 * Whether nothing else on this machine listens on 127.0.0.1:<port> right now. The pool knows
 * only our own workspaces; any other program may hold a port in its range (the default range
 * lies inside Linux's ephemeral range), and a workspace started there would die at once.
 */
export function isLoopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
