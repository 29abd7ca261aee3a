import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FleetDescription } from '../../../src/fleet/fleet-provider.js';
import { isConfirmedTerminated } from '../../../src/fleet/fleet-provider.js';
import {
  LocalFleetProvider,
  type LocalFleetProviderOptions,
} from '../../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../../src/fleet/local/node-launcher.js';
import { TerminationHookHandler, type NodeDrainer } from '../../../src/fleet/termination-hook.js';

const stubNode = fileURLToPath(new URL('./fixtures/stub-node.mjs', import.meta.url));
const stubCommands = {
  agent: [process.execPath, stubNode, 'agent'],
  proxy: [process.execPath, stubNode, 'proxy'],
};

let dataRoot: string;
const providers: LocalFleetProvider[] = [];

beforeEach(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'codeyard-fleet-'));
});

afterEach(async () => {
  // Every process a test started is stopped by pid through the provider that started it.
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
  await rm(dataRoot, { recursive: true, force: true });
});

function aFleet(overrides: Partial<LocalFleetProviderOptions> = {}, stubEnv: Record<string, string> = {}) {
  const provider = new LocalFleetProvider({
    fleet: 'local',
    minSize: 1,
    maxSize: 4,
    dataRoot,
    orchestratorUrl: 'http://127.0.0.1:9',
    joinSecret: 'join-secret-0123456789abcdef',
    launcher: processNodeLauncher({
      commands: stubCommands,
      baseEnv: { PATH: process.env.PATH, ...stubEnv },
    }),
    healthPollIntervalMs: 50,
    killGraceMs: 2_000,
    hookTimeoutMs: 60_000,
    ...overrides,
  });
  providers.push(provider);
  return provider;
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function lifecycleOf(description: FleetDescription, name: string) {
  return description.instances.find((i) => i.nodeName === name)?.lifecycle;
}

async function inService(provider: LocalFleetProvider, count: number): Promise<string[]> {
  return until(async () => {
    const names = (await provider.describe()).instances
      .filter((i) => i.lifecycle === 'InService')
      .map((i) => i.nodeName);
    return names.length === count ? names : undefined;
  }, `${count} nodes in service`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids as the node processes report them (the proxy may still be binding when the agent is healthy). */
async function pidsOf(provider: LocalFleetProvider, name: string): Promise<number[]> {
  const spec = provider.nodeSpec(name);
  if (!spec) throw new Error(`no node ${name}`);
  const pidAt = (url: string) =>
    until(async () => {
      try {
        return ((await (await fetch(`${url}/env`)).json()) as { pid: number }).pid;
      } catch {
        return undefined;
      }
    }, `${url} answering`);
  return [await pidAt(spec.agentUrl), await pidAt(spec.proxyUrl)];
}

describe('LocalFleetProvider', () => {
  it('launches min nodes, each with its own name, loopback ports, data dir and the fleet env; Pending until /healthz answers', async () => {
    const fleet = aFleet({ minSize: 2 }, { STUB_HEALTHY_AFTER_MS: '400' });
    await fleet.start();
    const early = await fleet.describe();
    expect(early.instances.map((i) => [i.nodeName, i.lifecycle])).toEqual([
      ['local-1', 'Pending'],
      ['local-2', 'Pending'],
    ]);
    await inService(fleet, 2);

    const one = fleet.nodeSpec('local-1')!;
    const two = fleet.nodeSpec('local-2')!;
    expect(new Set([one.agentPort, one.proxyPort, two.agentPort, two.proxyPort]).size).toBe(4);
    expect(one.dataDir).toBe(join(dataRoot, 'local-1'));
    // Container host ports come from disjoint blocks: both nodes share this machine's ports.
    expect(two.containerPortRange).toEqual({ start: 42_100, end: 42_199 });
    const agent = (await (await fetch(`${one.agentUrl}/env`)).json()) as { env: Record<string, string> };
    expect(agent.env).toMatchObject({
      CODEYARD_NODE_NAME: 'local-1',
      CODEYARD_FLEET: 'local',
      CODEYARD_JOIN_SECRET: 'join-secret-0123456789abcdef',
      CODEYARD_ORCHESTRATOR_URL: 'http://127.0.0.1:9',
      CODEYARD_DATA_DIR: one.dataDir,
      CODEYARD_NODE_DATA_DIR: one.dataDir,
      CODEYARD_PORT_RANGE: '42000-42099',
      CODEYARD_AGENT_PORT: String(one.agentPort),
      CODEYARD_PROXY_PORT: String(one.proxyPort),
    });
    const [, proxyPid] = await pidsOf(fleet, 'local-1');
    expect(alive(proxyPid!)).toBe(true);
  });

  it('plays the termination hook: notifies, waits for completeLifecycleAction, then stops the processes and reports Terminated once they exited', async () => {
    const notified: string[] = [];
    const fleet = aFleet({
      minSize: 0,
      desiredCapacity: 1,
      onTerminating: (name) => void notified.push(name),
    });
    await fleet.start();
    await inService(fleet, 1);
    const pids = await pidsOf(fleet, 'local-1');

    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    await until(() => notified.length === 1, 'onTerminating');
    expect(notified).toEqual(['local-1']);
    const waiting = await fleet.describe();
    expect(waiting.desiredCapacity).toBe(0);
    expect(waiting.instances).toEqual([
      { nodeName: 'local-1', lifecycle: 'Terminating', terminationHookPending: true },
    ]);
    // While the hook waits the node still serves: nothing is killed before the drain completes.
    expect(pids.every(alive)).toBe(true);
    expect(isConfirmedTerminated(waiting, 'local-1')).toBe(false);

    expect(await fleet.recordLifecycleActionHeartbeat('local-1')).toBe('active');
    expect(await fleet.completeLifecycleAction('local-1', 'CONTINUE')).toBe('completed');
    await fleet.waitForTerminated('local-1');
    const after = await fleet.describe();
    expect(lifecycleOf(after, 'local-1')).toBe('Terminated');
    expect(isConfirmedTerminated(after, 'local-1')).toBe(true);
    expect(pids.some(alive)).toBe(false);
    // Idempotent: terminating again succeeds, and the action is no longer active.
    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    expect(await fleet.completeLifecycleAction('local-1', 'CONTINUE')).toBe('expired');
    expect((await fleet.describe()).desiredCapacity).toBe(0);
  });

  it('proceeds when the hook times out without a completion', async () => {
    const fleet = aFleet({
      minSize: 0,
      desiredCapacity: 1,
      hookTimeoutMs: 300,
      onTerminating: () => undefined,
    });
    await fleet.start();
    await inService(fleet, 1);
    const started = Date.now();
    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    await fleet.waitForTerminated('local-1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(lifecycleOf(await fleet.describe(), 'local-1')).toBe('Terminated');
  });

  it('SIGKILLs a node process that ignores SIGTERM after the grace period', async () => {
    const fleet = aFleet({ minSize: 0, desiredCapacity: 1, killGraceMs: 300 }, { STUB_IGNORE_SIGTERM: '1' });
    await fleet.start();
    await inService(fleet, 1);
    const pids = await pidsOf(fleet, 'local-1');
    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    await until(
      async () => (await fleet.describe()).instances[0]?.lifecycle === 'Terminating',
      'terminating',
    );
    expect(pids.every(alive)).toBe(true);
    await fleet.waitForTerminated('local-1');
    expect(pids.some(alive)).toBe(false);
  });

  it('launches a replacement when a node is terminated without decrementing desired capacity', async () => {
    const fleet = aFleet({ minSize: 1 });
    await fleet.start();
    await inService(fleet, 1);
    await fleet.terminate('local-1', { decrementDesiredCapacity: false });
    await fleet.waitForTerminated('local-1');
    const names = await inService(fleet, 1);
    expect(names).toEqual(['local-2']);
  });

  it('clamps desired capacity to [min, max] and scales in the newest unprotected node first', async () => {
    const fleet = aFleet({ minSize: 1, maxSize: 3 });
    await fleet.start();
    await fleet.setDesiredCapacity(10);
    expect((await fleet.describe()).desiredCapacity).toBe(3);
    await inService(fleet, 3);
    await fleet.setScaleInProtection(['local-3'], true);
    await fleet.setDesiredCapacity(0);
    expect((await fleet.describe()).desiredCapacity).toBe(1);
    await fleet.waitForTerminated('local-2');
    await fleet.waitForTerminated('local-1');
    const description = await fleet.describe();
    expect(lifecycleOf(description, 'local-3')).toBe('InService');
    expect(lifecycleOf(description, 'local-2')).toBe('Terminated');
    expect(lifecycleOf(description, 'local-1')).toBe('Terminated');
  });

  it('replaces a node whose agent process dies, after stopping its proxy', async () => {
    const fleet = aFleet({ minSize: 1 }, { STUB_CRASH_AFTER_MS: '600', STUB_CRASH_NODE: 'local-1' });
    await fleet.start();
    await inService(fleet, 1);
    const proxyUrl = fleet.nodeSpec('local-1')!.proxyUrl;
    await until(
      async () => lifecycleOf(await fleet.describe(), 'local-1') === 'Terminated',
      'crashed node terminated',
    );
    await expect(fetch(`${proxyUrl}/healthz`)).rejects.toThrow();
    await until(
      async () => lifecycleOf(await fleet.describe(), 'local-2') === 'InService',
      'replacement in service',
    );
  });

  it('shutdown stops every process it started', async () => {
    const fleet = aFleet({ minSize: 2 });
    await fleet.start();
    await inService(fleet, 2);
    const pids = [...(await pidsOf(fleet, 'local-1')), ...(await pidsOf(fleet, 'local-2'))];
    await fleet.shutdown();
    expect(pids.some(alive)).toBe(false);
    expect((await fleet.describe()).instances.every((i) => i.lifecycle === 'Terminated')).toBe(true);
  });

  it('reports a node whose binary cannot start as Terminated (exit seen), not as running', async () => {
    const broken = aFleet({
      launcher: processNodeLauncher({ commands: { agent: [join(dataRoot, 'no-such-binary')] } }),
    });
    await broken.start();
    await until(
      async () => lifecycleOf(await broken.describe(), 'local-1') === 'Terminated',
      'failed node terminated',
    );
    expect(isConfirmedTerminated(await broken.describe(), 'local-1')).toBe(true);
  });

  it('drains through TerminationHookHandler: cordon, stop with NodeTerminating, complete, then the processes stop', async () => {
    const calls: string[] = [];
    let drained = false;
    const drainer: NodeDrainer = {
      cordon: async (node) => void calls.push(`cordon ${node}`),
      stopCodespacesOn: async (node, reason) => {
        calls.push(`stop ${node} ${reason}`);
        setTimeout(() => (drained = true), 200);
      },
      isDrained: async () => drained,
    };
    // The provider calls the handler, and the handler calls the provider back.
    const hook: { handler?: TerminationHookHandler } = {};
    const fleet = aFleet({
      minSize: 0,
      desiredCapacity: 1,
      onTerminating: (name) => hook.handler?.onTerminating(name),
    });
    hook.handler = new TerminationHookHandler(
      { drainer, lifecycle: fleet },
      {
        nowMs: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        drainPollIntervalMs: 50,
      },
    );
    await fleet.start();
    await inService(fleet, 1);
    const pids = await pidsOf(fleet, 'local-1');
    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    await fleet.waitForTerminated('local-1');
    expect(calls).toEqual(['cordon local-1', 'stop local-1 NodeTerminating']);
    expect(drained).toBe(true);
    expect(pids.some(alive)).toBe(false);
  });
});
