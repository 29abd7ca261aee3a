/**
 * The local fleet served over loopback HTTP and driven through `RemoteFleetProvider`: the same
 * expectations as the local provider where they apply (launch to min, terminate confirmed in
 * describe, desired capacity clamped, lifecycle hook), plus the service's own: a secret is
 * required, and failures reach the caller as typed errors. Nodes are stub processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isConfirmedTerminated } from '../../../src/fleet/fleet-provider.js';
import { startFleetService, type FleetService } from '../../../src/fleet/local/fleet-service.js';
import {
  LocalFleetProvider,
  type LocalFleetProviderOptions,
} from '../../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../../src/fleet/local/node-launcher.js';
import { RemoteFleetProvider } from '../../../src/fleet/remote-fleet-provider.js';
import { CodeyardError } from '../../../src/model/errors.js';
import { loadOrchestratorConfig } from '../../../src/orchestrator/config.js';
import { fleetFromConfig } from '../../../src/orchestrator/fleet-from-config.js';
import { reconcilerTuningFromConfig } from '../../../src/orchestrator/reconciler-tuning.js';

const stubNode = fileURLToPath(new URL('./fixtures/stub-node.mjs', import.meta.url));
const secret = 'fleet-service-secret-0123456789';
const waitTimeoutMs = 10_000;

let dataRoot: string;
let local: LocalFleetProvider | undefined;
let service: FleetService | undefined;

beforeEach(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'codeyard-fleet-service-'));
});

afterEach(async () => {
  await service?.close();
  await local?.shutdown();
  service = undefined;
  local = undefined;
  await rm(dataRoot, { recursive: true, force: true });
});

async function served(overrides: Partial<LocalFleetProviderOptions> = {}): Promise<RemoteFleetProvider> {
  local = new LocalFleetProvider({
    fleet: 'local',
    minSize: 1,
    maxSize: 3,
    dataRoot,
    orchestratorUrl: 'http://127.0.0.1:9',
    joinSecret: 'join-secret-0123456789abcdef',
    launcher: processNodeLauncher({
      commands: {
        agent: [process.execPath, stubNode, 'agent'],
        proxy: [process.execPath, stubNode, 'proxy'],
      },
      baseEnv: { PATH: process.env.PATH },
    }),
    healthPollIntervalMs: 50,
    killGraceMs: 2_000,
    ...overrides,
  });
  await local.start();
  service = await startFleetService({ provider: local, secret });
  return new RemoteFleetProvider({ fleet: 'local', url: service.url, secret });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + waitTimeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function codeOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return error instanceof CodeyardError ? error.code : `untyped: ${String(error)}`;
  }
}

describe('fleet service + RemoteFleetProvider', () => {
  it('describes the same fleet as the local provider it serves', async () => {
    const remote = await served();
    await until(
      async () => ((await remote.describe()).instances[0]?.lifecycle === 'InService' ? true : undefined),
      'the node in service',
    );
    expect(await remote.describe()).toEqual(await local!.describe());
    expect((await remote.describe()).instances).toHaveLength(1);
  });

  it('terminates a node for real: its processes exit and describe confirms it Terminated', async () => {
    const remote = await served();
    const [node] = (await remote.describe()).instances;
    await remote.terminate(node!.nodeName, { decrementDesiredCapacity: true });
    await local!.waitForTerminated(node!.nodeName);
    const description = await remote.describe();
    expect(isConfirmedTerminated(description, node!.nodeName)).toBe(true);
    // Terminating again is idempotent, as for every provider.
    await remote.terminate(node!.nodeName, { decrementDesiredCapacity: true });
    expect((await remote.describe()).desiredCapacity).toBe(1);
  });

  it('sets the desired capacity, clamped by the served provider', async () => {
    const remote = await served();
    await remote.setDesiredCapacity(10);
    const description = await remote.describe();
    expect(description.desiredCapacity).toBe(3);
    expect(description.instances.filter((i) => i.lifecycle !== 'Terminated')).toHaveLength(3);
  });

  it('plays the termination lifecycle hook through the service', async () => {
    const notified: string[] = [];
    const remote = await served({ onTerminating: (name) => void notified.push(name), hookTimeoutMs: 60_000 });
    const [node] = (await remote.describe()).instances;
    await remote.terminate(node!.nodeName, { decrementDesiredCapacity: false });
    await until(async () => (notified.length > 0 ? true : undefined), 'the hook to notify');
    expect((await remote.describe()).instances[0]).toMatchObject({ terminationHookPending: true });
    expect(await remote.recordLifecycleActionHeartbeat(node!.nodeName)).toBe('active');
    expect(await remote.completeLifecycleAction(node!.nodeName, 'CONTINUE')).toBe('completed');
    await local!.waitForTerminated(node!.nodeName);
    expect(await remote.completeLifecycleAction(node!.nodeName, 'CONTINUE')).toBe('expired');
  });

  it('refuses a caller without the secret, which sees FLEET_UNAVAILABLE (a fence is never confirmed)', async () => {
    await served();
    const intruder = new RemoteFleetProvider({
      fleet: 'local',
      url: service!.url,
      secret: 'wrong-secret-0123456789',
    });
    expect(await codeOf(intruder.describe())).toBe('FLEET_UNAVAILABLE');
    expect(await codeOf(intruder.terminate('local-1', { decrementDesiredCapacity: false }))).toBe(
      'FLEET_UNAVAILABLE',
    );
    expect((await local!.describe()).instances[0]?.lifecycle).not.toBe('Terminating');
    const raw = await fetch(`${service!.url}/v1/fleet`);
    expect(raw.status).toBe(401);
  });

  it('refuses a fleet of another name, a bad node name and a bad body with typed errors', async () => {
    await served();
    const other = new RemoteFleetProvider({ fleet: 'elsewhere', url: service!.url, secret });
    expect(await codeOf(other.describe())).toBe('FLEET_UNAVAILABLE');
    const remote = new RemoteFleetProvider({ fleet: 'local', url: service!.url, secret });
    expect(await codeOf(remote.terminate('../etc', { decrementDesiredCapacity: false }))).toBe(
      'INVALID_PARAMETER',
    );
    expect(await codeOf(remote.setDesiredCapacity(-1))).toBe('VALIDATION_FAILED');
  });

  it('reports FLEET_UNAVAILABLE when the service is not there', async () => {
    const remote = new RemoteFleetProvider({
      fleet: 'local',
      url: 'http://127.0.0.1:9',
      secret,
      callTimeoutMs: 1_000,
    });
    expect(await codeOf(remote.describe())).toBe('FLEET_UNAVAILABLE');
  });

  it('will not start with a short secret', async () => {
    const provider = await served();
    expect(provider).toBeDefined();
    expect(await codeOf(startFleetService({ provider: local!, secret: 'short' }))).toBe('VALIDATION_FAILED');
  });
});

describe('orchestrator config for a served fleet and short timings', () => {
  it('builds a RemoteFleetProvider for fleetProvider local-service', async () => {
    const remote = await served();
    const config = loadOrchestratorConfig({
      CODEYARD_FLEET_PROVIDER: 'local-service',
      CODEYARD_FLEET_SERVICE_URL: service!.url,
      CODEYARD_FLEET_SERVICE_SECRET: secret,
    });
    const fleet = fleetFromConfig(config);
    expect(fleet).toBeInstanceOf(RemoteFleetProvider);
    expect(await fleet.describe()).toEqual(await remote.describe());
  });

  it('refuses local-service without its URL and secret, naming the variables', () => {
    expect(() => loadOrchestratorConfig({ CODEYARD_FLEET_PROVIDER: 'local-service' })).toThrow(
      /CODEYARD_FLEET_SERVICE_URL and CODEYARD_FLEET_SERVICE_SECRET/,
    );
  });

  it('passes only the timings that are set to the reconciler and the leader election', () => {
    const config = loadOrchestratorConfig({
      CODEYARD_NODE_LOST_GRACE_MS: '12000',
      CODEYARD_LEADER_LEASE_DURATION_MS: '6000',
      CODEYARD_LEADER_RENEW_DEADLINE_MS: '4000',
      CODEYARD_RESYNC_INTERVAL_MS: '5000',
    });
    expect(reconcilerTuningFromConfig(config)).toEqual({
      config: { nodeLostGraceMs: 12_000 },
      timing: { resyncIntervalMs: 5_000 },
      electorTiming: { leaseDurationMs: 6_000, renewDeadlineMs: 4_000 },
    });
    expect(reconcilerTuningFromConfig(loadOrchestratorConfig({}))).toEqual({
      config: {},
      timing: {},
      electorTiming: {},
    });
  });
});
