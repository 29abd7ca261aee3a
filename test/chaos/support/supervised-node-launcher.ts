/**
 * Node processes for the chaos suite, as on a real instance: the node proxy runs once, the node
 * agent runs under a supervisor that restarts it after it dies (systemd `Restart=always`), so a
 * `kill -9` of the agent is an agent crash on a live node — containers and the proxy keep running,
 * the agent rebuilds its state from Docker labels — not the loss of the instance. Each node talks
 * to the orchestrators through its own `OrchestratorRelay`. The fleet stops a node by signalling
 * its processes; only then does the supervisor let the agent stay down.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultNodeCommands,
  processNodeLauncher,
  type LaunchedProcess,
  type LocalNodeSpec,
  type NodeLauncher,
} from '../../../src/fleet/local/node-launcher.js';
import { startOrchestratorRelay, type OrchestratorRelay } from './orchestrator-relay.js';

/** Like systemd's RestartSec: a crash is followed by a short pause, not a hot loop. */
export const agentRestartDelayMs = 500;

export interface ChaosNodeProcesses {
  readonly name: string;
  /** The spec the processes were started with (its orchestrator URL is the relay). */
  readonly spec: LocalNodeSpec;
  readonly relay: OrchestratorRelay;
  agentPid(): number | undefined;
  proxyPid(): number | undefined;
  /** How many times the supervisor started the agent again after it died. */
  readonly agentRestarts: number;
  /** Extra agent environment from its next (re)start on (fault points, DOCKER_HOST, …). */
  setAgentEnv(env: Readonly<Record<string, string>>): void;
  /** SIGKILL the agent's current process (the supervisor restarts it); resolves once it exited. */
  kill9Agent(): Promise<void>;
  /** Resolves with the pid of an agent process started after `afterPid` died, once it answers /healthz. */
  agentBackAfter(afterPid: number | undefined, timeoutMs: number): Promise<number>;
}

export interface SupervisedLauncherOptions {
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
  /** The replicas' URLs, in preference order, asked on every relayed request. */
  readonly upstreams: () => readonly string[];
  /** Agent environment for a node at launch (e.g. its DOCKER_HOST). */
  readonly agentEnvFor?: (nodeName: string) => Readonly<Record<string, string>>;
  /** Told about each node once its processes are up. */
  readonly onLaunched: (node: ChaosNodeProcesses) => void;
}

export function supervisedNodeLauncher(options: SupervisedLauncherOptions): NodeLauncher {
  return async (given) => {
    const relay = await startOrchestratorRelay({ upstreams: options.upstreams });
    const spec: LocalNodeSpec = { ...given, orchestratorUrl: relay.url };
    mkdirSync(spec.dataDir, { recursive: true });
    let agentEnv: Record<string, string> = { ...(options.agentEnvFor?.(spec.name) ?? {}) };
    const [proxy] = await processNodeLauncher({
      commands: { proxy: defaultNodeCommands.proxy },
      baseEnv: options.baseEnv,
    })(spec);
    const agent = await superviseAgent(async () => {
      const [process] = await processNodeLauncher({
        commands: { agent: defaultNodeCommands.agent },
        baseEnv: { ...options.baseEnv, ...agentEnv },
      })(spec);
      return process!;
    });
    // The relay outlives nothing: it closes with the node.
    void Promise.all([agent.exited, proxy!.exited]).then(() => relay.close());
    options.onLaunched({
      name: spec.name,
      spec,
      relay,
      agentPid: () => agent.pid,
      proxyPid: () => proxy!.pid,
      get agentRestarts() {
        return agent.restarts;
      },
      setAgentEnv: (env) => {
        agentEnv = { ...agentEnv, ...env };
      },
      kill9Agent: () => agent.kill9Current(),
      agentBackAfter: (afterPid, timeoutMs) =>
        agent.backAfter(afterPid, spec.agentUrl, timeoutMs, join(spec.dataDir, 'agent.log')),
    });
    return [agent, proxy!];
  };
}

interface SupervisedProcess extends LaunchedProcess {
  readonly restarts: number;
  kill9Current(): Promise<void>;
  backAfter(
    afterPid: number | undefined,
    agentUrl: string,
    timeoutMs: number,
    logPath: string,
  ): Promise<number>;
}

async function superviseAgent(start: () => Promise<LaunchedProcess>): Promise<SupervisedProcess> {
  let current = await start();
  let stopping = false;
  let done = false;
  let restarts = 0;
  let resolveExited: () => void = () => undefined;
  const exited = new Promise<void>((resolve) => (resolveExited = resolve));
  const watch = (process: LaunchedProcess): void => {
    void process.exited.then(async () => {
      if (stopping) {
        done = true;
        resolveExited();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, agentRestartDelayMs));
      if (stopping) {
        done = true;
        resolveExited();
        return;
      }
      current = await start();
      restarts += 1;
      watch(current);
    });
  };
  watch(current);
  return {
    role: 'agent',
    get pid() {
      return current.pid;
    },
    exited,
    hasExited: () => done,
    signal: (signal) => {
      stopping = true;
      current.signal(signal);
      // Between a crash and its restart there is no process to signal: the watcher ends the wait.
    },
    get restarts() {
      return restarts;
    },
    kill9Current: async () => {
      const victim = current;
      victim.signal('SIGKILL');
      await victim.exited;
    },
    backAfter: async (afterPid, agentUrl, timeoutMs, logPath) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const pid = current.pid;
        if (pid !== afterPid && !current.hasExited() && (await answers(`${agentUrl}/healthz`))) return pid!;
        if (Date.now() > deadline) {
          throw new Error(
            `agent not back within ${timeoutMs} ms (was pid ${afterPid}, now ${pid}, ${restarts} restarts); see ${logPath}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
