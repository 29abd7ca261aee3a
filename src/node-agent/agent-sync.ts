import type { Logger } from 'pino';
import type { KvCodespaceEntry } from './local-kv-format.js';
import type { LocalKv } from './local-kv.js';
import type { NodeAgent } from './node-agent.js';
import type { PortPool } from './port-pool.js';
import type { ContainerRuntime, RuntimeContainer } from './runtime/container-runtime.js';

export interface AgentSyncDeps {
  runtime: ContainerRuntime;
  ports: PortPool;
  kv: LocalKv;
  agent: NodeAgent;
  logger: Logger;
}

type Entry = KvCodespaceEntry & { name: string };

function entryFor(
  container: RuntimeContainer,
  hostPort: number | undefined,
  previous: Partial<Entry> | undefined,
): Entry {
  const running = container.state === 'running';
  // Labels cannot change after create: the newest generation and the stop reason live in the KV file.
  const stopReason = running
    ? undefined
    : (previous?.stopReason ?? (previous?.state === 'running' ? 'Crashed' : undefined));
  return {
    name: container.name,
    uid: container.uid,
    owner: container.owner,
    state: running ? 'running' : 'exited',
    ready: false,
    generation: Math.max(container.generation, previous?.generation ?? 0),
    epoch: container.epoch,
    cpu: container.cpu,
    memoryMiB: container.memoryMiB,
    ...((previous?.idleTimeoutSeconds ?? container.idleTimeoutSeconds) !== undefined
      ? { idleTimeoutSeconds: previous?.idleTimeoutSeconds ?? container.idleTimeoutSeconds }
      : {}),
    ...(hostPort !== undefined ? { hostPort } : {}),
    ...(running && (container.startedAt ?? previous?.startedAt)
      ? { startedAt: container.startedAt ?? previous?.startedAt }
      : {}),
    ...(previous?.lastActivityAt !== undefined ? { lastActivityAt: previous.lastActivityAt } : {}),
    ...(stopReason !== undefined ? { stopReason } : {}),
    ...(!running && container.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
  };
}

function adoptPort(deps: AgentSyncDeps, container: RuntimeContainer): number | undefined {
  if (container.state !== 'running') return undefined;
  if (deps.ports.adopt(container.uid, container.hostPort)) return container.hostPort;
  deps.logger.error(
    { uid: container.uid, codespace: container.name, hostPort: container.hostPort },
    'running container holds a port outside the pool or one already taken; it is not routed to',
  );
  return undefined;
}

/**
 * Start-up: the port pool and the KV are rebuilt from the runtime's labels (the truth), keeping
 * from the previous KV file only what labels cannot hold. Nothing is started or stopped here.
 */
export async function rebuildFromRuntime(deps: AgentSyncDeps): Promise<void> {
  const previous = await deps.kv.loadPrevious();
  const previousByUid = new Map<string, Partial<Entry>>(
    Object.entries(previous?.codespaces ?? {}).map(([name, entry]) => [entry.uid, { ...entry, name }]),
  );
  for (const container of await deps.runtime.list()) {
    const hostPort = adoptPort(deps, container);
    deps.kv.set(container.uid, entryFor(container, hostPort, previousByUid.get(container.uid)));
    if (hostPort !== undefined) deps.agent.probeReadiness(container.uid, hostPort);
  }
  await deps.kv.flush();
  deps.logger.info(
    { containers: deps.kv.all().length, portsHeld: deps.ports.heldCount },
    'rebuilt state from runtime labels',
  );
}

/**
 * Periodic: notices containers that exited on their own (crash, OOM, someone ran `docker stop`)
 * or vanished, and gives their ports back. Disagreements are re-checked under the codespace's
 * lock; codespaces with a command in flight are left to that command.
 */
export async function refreshFromRuntime(deps: AgentSyncDeps): Promise<void> {
  const observed = new Map((await deps.runtime.list()).map((c) => [c.uid, c]));
  const suspects = new Set<string>();
  for (const entry of deps.kv.all()) {
    const container = observed.get(entry.uid);
    if (!container || (container.state === 'running') !== (entry.state === 'running'))
      suspects.add(entry.uid);
  }
  for (const uid of observed.keys()) if (!deps.kv.get(uid)) suspects.add(uid);
  for (const uid of suspects) {
    if (deps.agent.isBusy(uid)) continue;
    await deps.agent.withLock(uid, async () => {
      const container = await deps.runtime.inspect(uid);
      const entry = deps.kv.get(uid);
      if (!container) {
        if (!entry) return;
        deps.ports.release(uid);
        deps.kv.delete(uid);
      } else if (container.state === 'running') {
        if (entry?.state === 'running') return;
        const hostPort = adoptPort(deps, container);
        deps.kv.set(uid, entryFor(container, hostPort, entry));
        if (hostPort !== undefined) deps.agent.probeReadiness(uid, hostPort);
      } else {
        if (entry && entry.state !== 'running') return;
        deps.ports.release(uid);
        deps.kv.set(uid, entryFor(container, undefined, entry));
        if (entry)
          deps.logger.warn(
            { uid, codespace: entry.name, exitCode: container.exitCode },
            'workspace exited on its own',
          );
      }
      deps.agent.changed();
    });
  }
}
