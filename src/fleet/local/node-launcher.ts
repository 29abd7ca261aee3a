import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Everything one local node is told at launch; each node gets its own ports and data directory. */
export interface LocalNodeSpec {
  readonly name: string;
  readonly fleet: string;
  readonly host: string;
  readonly agentPort: number;
  readonly proxyPort: number;
  readonly agentUrl: string;
  readonly proxyUrl: string;
  readonly dataDir: string;
  readonly orchestratorUrl: string;
  readonly joinSecret: string;
  /** Host ports for this node's containers; disjoint per node, since all share one machine. */
  readonly containerPortRange: { readonly start: number; readonly end: number };
}

/** One OS process of a node, as the provider tracks it: exit is known only from the exit event. */
export interface LaunchedProcess {
  readonly role: string;
  readonly pid: number | undefined;
  /** Resolves once the process has exited (or never started). Never rejects. */
  readonly exited: Promise<void>;
  hasExited(): boolean;
  signal(signal: NodeJS.Signals): void;
}

/** Starts a node's processes. The default spawns the real agent and proxy; tests pass stub commands. */
export type NodeLauncher = (node: LocalNodeSpec) => Promise<readonly LaunchedProcess[]>;

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** `node --import tsx <entry>`: the TypeScript sources run as they are, as `codeyard up` does. */
export const defaultNodeCommands: Readonly<Record<'agent' | 'proxy', readonly string[]>> = {
  agent: [process.execPath, '--import', 'tsx', join(repositoryRoot, 'src/node-agent/main.ts')],
  proxy: [process.execPath, '--import', 'tsx', join(repositoryRoot, 'src/node-proxy/main.ts')],
};

/**
 * The environment of a node's processes. Names follow the agent's and proxy's config modules
 * (`src/node-agent/config.ts`, `src/node-proxy/config.ts`); each ignores the other's. Agent and
 * proxy share one data directory: the proxy reads the agent's KV and proxy secret from it.
 */
export function nodeEnvironment(node: LocalNodeSpec): Record<string, string> {
  return {
    CODEYARD_NODE_NAME: node.name,
    CODEYARD_FLEET: node.fleet,
    CODEYARD_ORCHESTRATOR_URL: node.orchestratorUrl,
    CODEYARD_JOIN_SECRET: node.joinSecret,
    // Agent: CODEYARD_NODE_DATA_DIR; proxy: CODEYARD_DATA_DIR.
    CODEYARD_NODE_DATA_DIR: node.dataDir,
    CODEYARD_DATA_DIR: node.dataDir,
    CODEYARD_AGENT_HOST: node.host,
    CODEYARD_AGENT_PORT: String(node.agentPort),
    CODEYARD_AGENT_URL: node.agentUrl,
    CODEYARD_PROXY_HOST: node.host,
    CODEYARD_PROXY_PORT: String(node.proxyPort),
    CODEYARD_PROXY_URL: node.proxyUrl,
    CODEYARD_PROXY_HEALTH_URL: `${node.proxyUrl}/healthz`,
    CODEYARD_PORT_RANGE: `${node.containerPortRange.start}-${node.containerPortRange.end}`,
  };
}

export interface ProcessNodeLauncherOptions {
  /** argv per process role. Default: the real node agent and node proxy. */
  readonly commands?: Readonly<Record<string, readonly string[]>>;
  /** Inherited by every process (PATH, log level, …); node-specific variables override it. */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/** Spawns one process per role, stdout and stderr appended to `<dataDir>/<role>.log`. */
export function processNodeLauncher(options: ProcessNodeLauncherOptions = {}): NodeLauncher {
  const commands = options.commands ?? defaultNodeCommands;
  return async (node) => {
    mkdirSync(node.dataDir, { recursive: true });
    const env = { ...options.baseEnv, ...nodeEnvironment(node) };
    return Object.entries(commands).map(([role, argv]) => {
      const log = openSync(join(node.dataDir, `${role}.log`), 'a');
      try {
        const [file, ...args] = argv;
        const child = spawn(file ?? process.execPath, args, {
          cwd: options.cwd ?? repositoryRoot,
          env,
          stdio: ['ignore', log, log],
        });
        let done = false;
        const exited = new Promise<void>((resolve) => {
          const finish = () => {
            done = true;
            resolve();
          };
          child.once('exit', finish);
          // A spawn failure (no such binary) emits 'error' without 'exit'.
          child.once('error', () => {
            if (child.pid === undefined) finish();
          });
        });
        return {
          role,
          pid: child.pid,
          exited,
          hasExited: () => done,
          signal: (signal: NodeJS.Signals) => {
            if (!done) child.kill(signal);
          },
        };
      } finally {
        closeSync(log);
      }
    });
  };
}
