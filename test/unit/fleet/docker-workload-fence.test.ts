import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFleetProvider } from '../../../src/fleet/local/local-fleet-provider.js';
import { processNodeLauncher } from '../../../src/fleet/local/node-launcher.js';
import { dockerWorkloadFence } from '../../../src/fleet/local/workload-fence.js';
import { containerNameFor, volumeNameFor } from '../../../src/model/codespace.js';
import { DockerRuntime } from '../../../src/node-agent/runtime/docker-runtime.js';

// Real Docker: fails loudly when no engine answers. The image is built locally (no pulls).
const image = 'codeyard/test-workspace:latest';
const stubNode = fileURLToPath(new URL('./fixtures/stub-node.mjs', import.meta.url));
const docker = new Docker();
const prefix = `fence-${randomBytes(3).toString('hex')}-`;
const nodeName = `${prefix}1`;
const uid = `fence-${randomBytes(6).toString('hex')}`;
let dataRoot: string;
let fleet: LocalFleetProvider;

beforeAll(async () => {
  await docker.ping();
  await docker.getImage(image).inspect();
  dataRoot = await mkdtemp(join(tmpdir(), 'codeyard-fence-'));
});

afterAll(async () => {
  await fleet?.shutdown();
  await docker
    .getContainer(containerNameFor(uid))
    .remove({ force: true })
    .catch(() => undefined);
  await docker
    .getVolume(volumeNameFor(uid))
    .remove()
    .catch(() => undefined);
  await rm(dataRoot, { recursive: true, force: true });
});

describe('fencing a local node with Docker', () => {
  it("removes the node's containers (by its node label) once its processes are gone, and keeps their volumes", async () => {
    fleet = new LocalFleetProvider({
      fleet: 'local',
      minSize: 0,
      maxSize: 1,
      desiredCapacity: 1,
      dataRoot,
      orchestratorUrl: 'http://127.0.0.1:9',
      joinSecret: 'join-secret-0123456789abcdef',
      namePrefix: prefix,
      launcher: processNodeLauncher({
        commands: {
          agent: [process.execPath, stubNode, 'agent'],
          proxy: [process.execPath, stubNode, 'proxy'],
        },
        baseEnv: { PATH: process.env.PATH },
      }),
      fenceWorkloads: dockerWorkloadFence,
      healthPollIntervalMs: 50,
      killGraceMs: 2_000,
    });
    await fleet.start();

    // A workspace container as the node's agent would have created it.
    const runtime = new DockerRuntime({ nodeName, docker });
    await runtime.ensure({
      uid,
      name: 'fenced',
      owner: 'alice',
      generation: 1,
      epoch: 1,
      hostPort: 0,
      specHash: 'h',
      spec: {
        image,
        running: true,
        resources: { cpu: 0.25, memoryMiB: 256, diskGiB: 1 },
        idleTimeoutSeconds: 900,
        env: {},
      },
    });
    expect((await runtime.list()).map((c) => c.uid)).toEqual([uid]);

    await fleet.terminate(nodeName, { decrementDesiredCapacity: true });
    await fleet.waitForTerminated(nodeName);

    expect((await fleet.describe()).instances).toEqual([{ nodeName, lifecycle: 'Terminated' }]);
    expect(await runtime.list()).toEqual([]);
    const volume = await docker.getVolume(volumeNameFor(uid)).inspect();
    expect(volume.Name).toBe(volumeNameFor(uid));
  });
});
