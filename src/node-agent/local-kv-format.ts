import type { StopReason } from '../model/codespace.js';
import type { ContainerState } from '../model/node.js';

/**
 * The node-local KV file (`<dataDir>/kv.json`): written by the agent, read by the node proxy
 * (a separate process). Docker labels are the truth; this file is the proxy's routing cache
 * plus the few facts labels cannot hold (stop reason, last activity, latest generation).
 * Pure types and parsing, no I/O: both sides import it. Format documented in docs/node-agent.md.
 */
export const localKvFormat = 1;
export const localKvFileName = 'kv.json';

export interface KvCodespaceEntry {
  uid: string;
  owner: string;
  hostPort?: number;
  state: ContainerState;
  /** The workspace answers HTTP on its port: the proxy may route to it. */
  ready: boolean;
  generation: number;
  epoch: number;
  /** Resources from the spec, for the heartbeat's allocatable figures. */
  cpu?: number;
  memoryMiB?: number;
  /** From the spec: the idle monitor stops the workspace after this long without a person's activity. */
  idleTimeoutSeconds?: number;
  startedAt?: string;
  lastActivityAt?: string;
  stopReason?: StopReason;
  /** Exit code of a workspace that stopped on its own. */
  exitCode?: number;
}

export interface LocalKvDocument {
  format: typeof localKvFormat;
  /** Increases with every write, also across agent restarts. */
  version: number;
  nodeName: string;
  writtenAt: string;
  draining: boolean;
  /** Codespace name → entry. */
  codespaces: Record<string, KvCodespaceEntry>;
  /** Owner (user id) → codespace names on this node. */
  users: Record<string, string[]>;
  freePorts: number[];
}

export interface Route {
  uid: string;
  owner: string;
  hostPort: number;
  state: ContainerState;
  ready: boolean;
}

/** Parses a KV file; undefined for anything that is not a well-formed document of our format. */
export function parseLocalKv(text: string): LocalKvDocument | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const doc = value as Partial<LocalKvDocument>;
  if (doc.format !== localKvFormat || typeof doc.version !== 'number') return undefined;
  if (typeof doc.codespaces !== 'object' || doc.codespaces === null) return undefined;
  return doc as LocalKvDocument;
}

/** The proxy's question: where does this codespace live, and may I send traffic there? */
export function routeIn(doc: LocalKvDocument | undefined, codespaceName: string): Route | undefined {
  if (!doc || !Object.hasOwn(doc.codespaces, codespaceName)) return undefined;
  const entry = doc.codespaces[codespaceName]!;
  if (entry.hostPort === undefined) return undefined;
  return {
    uid: entry.uid,
    owner: entry.owner,
    hostPort: entry.hostPort,
    state: entry.state,
    ready: entry.ready,
  };
}
