import type { ContainerState } from '../model/node.js';

/** Where one codespace's container answers on this node, as the node agent's local KV says. */
export interface Route {
  readonly uid: string;
  readonly owner: string;
  readonly hostPort: number;
  readonly state: ContainerState;
  /** The container answers HTTP on its port. */
  readonly ready: boolean;
}

/**
 * The proxy's view of the node agent's local KV. `routeFor` runs on every request, so an
 * implementation must answer from memory in O(1) (a Map), never by scanning or reading a file.
 */
export interface RouteTable {
  routeFor(codespaceName: string): Route | undefined;
}

/** A route table held in memory: tests, and the adapter target for the agent's KV reader. */
export class InMemoryRouteTable implements RouteTable {
  private readonly routes = new Map<string, Route>();

  routeFor(codespaceName: string): Route | undefined {
    return this.routes.get(codespaceName);
  }

  set(codespaceName: string, route: Route): void {
    this.routes.set(codespaceName, route);
  }

  delete(codespaceName: string): void {
    this.routes.delete(codespaceName);
  }

  get size(): number {
    return this.routes.size;
  }
}
