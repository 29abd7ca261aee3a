import type { Store } from '../store/store.js';

/** How long `codeyard up` waits for its first nodes to beat before it says it is up anyway. */
export const nodesReadyTimeoutMs = 60_000;
const nodesPollIntervalMs = 200;

/**
 * Waits until `count` nodes have sent a heartbeat since `sinceMs`. A node process answering its
 * health check is not yet a node the scheduler knows: until its first beat lands, a codespace
 * created at once would wait as unschedulable. Resolves false on timeout (the caller says so).
 */
export async function waitForNodeHeartbeats(
  store: Pick<Store, 'listNodes'>,
  options: { count: number; sinceMs: number; timeoutMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? nodesReadyTimeoutMs);
  for (;;) {
    const nodes = await store.listNodes();
    if (nodes.filter((node) => node.lastHeartbeatReceivedMs >= options.sinceMs).length >= options.count)
      return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, nodesPollIntervalMs));
  }
}
