import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFleetProvider } from '../../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../../src/fleet/local/node-launcher.js';
import { processWorkloadFence } from '../../../src/fleet/local/workload-fence.js';

// The real node agent and node proxy (`node --import tsx src/node-…/main.ts`), with the
// process runtime so no Docker is involved. No orchestrator answers: the agent still serves
// /healthz, which is all the fleet needs to call a node InService.
let dataRoot: string;
let fleet: LocalFleetProvider;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'codeyard-real-node-'));
});

afterAll(async () => {
  await fleet?.shutdown();
  await rm(dataRoot, { recursive: true, force: true });
});

async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('LocalFleetProvider with the real node agent and proxy', () => {
  it('starts a node whose agent reports its name on /healthz, then stops both processes on terminate', async () => {
    fleet = new LocalFleetProvider({
      fleet: 'local',
      minSize: 0,
      maxSize: 1,
      desiredCapacity: 1,
      dataRoot,
      orchestratorUrl: 'http://127.0.0.1:9',
      joinSecret: 'join-secret-0123456789abcdef',
      launcher: processNodeLauncher({
        baseEnv: { PATH: process.env.PATH, CODEYARD_RUNTIME: 'process', CODEYARD_LOG_LEVEL: 'warn' },
      }),
      fenceWorkloads: processWorkloadFence,
      healthPollIntervalMs: 200,
      killGraceMs: 5_000,
    });
    await fleet.start();
    await until(
      async () => (await fleet.describe()).instances[0]?.lifecycle === 'InService',
      'the real agent to answer /healthz',
      60_000,
    );
    const spec = fleet.nodeSpec('local-1')!;
    const health = (await (await fetch(`${spec.agentUrl}/healthz`)).json()) as {
      node: string;
      runtime: string;
    };
    expect(health).toMatchObject({ node: 'local-1', runtime: 'process' });
    await until(
      async () => {
        try {
          return (await fetch(`${spec.proxyUrl}/healthz`)).status < 500;
        } catch {
          return false;
        }
      },
      'the real proxy to listen',
      60_000,
    );

    await fleet.terminate('local-1', { decrementDesiredCapacity: true });
    await fleet.waitForTerminated('local-1');
    expect((await fleet.describe()).instances).toEqual([{ nodeName: 'local-1', lifecycle: 'Terminated' }]);
    await expect(fetch(`${spec.agentUrl}/healthz`)).rejects.toThrow();
    await expect(fetch(`${spec.proxyUrl}/healthz`)).rejects.toThrow();
  }, 120_000);
});
