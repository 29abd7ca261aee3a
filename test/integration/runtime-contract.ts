/**
 * The ContainerRuntime contract: every implementation (Docker, local process) passes the same
 * suite. Each suite supplies a factory for a runtime bound to a fresh node name, and a port range.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerRuntime } from '../../src/node-agent/runtime/container-runtime.js';
import { aWorkload, waitForHttp } from './node-agent-support.js';

export interface RuntimeContractOptions {
  /** A runtime for `nodeName`; called more than once with the same name (a restarted agent). */
  create: (nodeName: string) => ContainerRuntime;
  /** Removes everything the node created, even when a test failed half-way. */
  cleanup: (nodeName: string) => Promise<void>;
  nodeName: string;
  firstPort: number;
}

export function describeRuntimeContract(label: string, options: RuntimeContractOptions): void {
  describe(`${label} runtime contract`, () => {
    const runtime = options.create(options.nodeName);
    let nextPort = options.firstPort;
    const port = () => nextPort++;
    afterAll(() => options.cleanup(options.nodeName));

    it('starts a workload that answers HTTP on its loopback port and reads back its labels', async () => {
      const workload = aWorkload({ hostPort: port(), generation: 3, epoch: 7 });
      const started = await runtime.ensure(workload);
      expect(started).toMatchObject({
        uid: workload.uid,
        name: workload.name,
        owner: 'alice',
        generation: 3,
        epoch: 7,
        hostPort: workload.hostPort,
        specHash: workload.specHash,
        cpu: 0.25,
        memoryMiB: 256,
        idleTimeoutSeconds: 900,
        state: 'running',
      });
      expect(Date.parse(started.startedAt!)).not.toBeNaN();
      const response = await waitForHttp(`http://127.0.0.1:${workload.hostPort}/healthz`);
      expect(response.status).toBe(200);
      expect((await runtime.list()).map((c) => c.uid)).toContain(workload.uid);
      expect(await runtime.listVolumes()).toContain(workload.uid);
    });

    it('ensure is idempotent: a second call keeps the same running workload', async () => {
      const workload = aWorkload({ hostPort: port() });
      const first = await runtime.ensure(workload);
      const second = await runtime.ensure(workload);
      expect(second.startedAt).toBe(first.startedAt);
      expect((await runtime.list()).filter((c) => c.uid === workload.uid)).toHaveLength(1);
    });

    it('stop keeps the workload and its files; ensure starts it again with the files intact', async () => {
      const workload = aWorkload({ hostPort: port() });
      await runtime.ensure(workload);
      const base = `http://127.0.0.1:${workload.hostPort}`;
      await waitForHttp(`${base}/healthz`);
      const put = await fetch(`${base}/files/notes.txt`, { method: 'PUT', body: 'kept across restarts' });
      expect(put.status).toBeLessThan(300);
      await runtime.stop(workload.uid);
      expect((await runtime.inspect(workload.uid))?.state).toBe('exited');
      await runtime.stop(workload.uid);
      await runtime.ensure(workload);
      await waitForHttp(`${base}/healthz`);
      expect(await (await fetch(`${base}/files/notes.txt`)).text()).toBe('kept across restarts');
    });

    it('removeContainer keeps the volume: a recreated workload on another port sees the old files', async () => {
      const workload = aWorkload({ hostPort: port() });
      await runtime.ensure(workload);
      await waitForHttp(`http://127.0.0.1:${workload.hostPort}/healthz`);
      await fetch(`http://127.0.0.1:${workload.hostPort}/files/a.txt`, { method: 'PUT', body: 'volume' });
      await runtime.removeContainer(workload.uid);
      expect(await runtime.inspect(workload.uid)).toBeUndefined();
      expect(await runtime.listVolumes()).toContain(workload.uid);
      const moved = { ...workload, hostPort: port() };
      await runtime.ensure(moved);
      await waitForHttp(`http://127.0.0.1:${moved.hostPort}/healthz`);
      expect(await (await fetch(`http://127.0.0.1:${moved.hostPort}/files/a.txt`)).text()).toBe('volume');
    });

    it('remove deletes workload and volume, and removing a missing one succeeds', async () => {
      const workload = aWorkload({ hostPort: port() });
      await runtime.ensure(workload);
      await runtime.remove(workload.uid);
      expect(await runtime.inspect(workload.uid)).toBeUndefined();
      expect(await runtime.listVolumes()).not.toContain(workload.uid);
      await runtime.remove(workload.uid);
      await runtime.stop(workload.uid);
      expect(await runtime.inspect('never-existed')).toBeUndefined();
    });

    it('a runtime restarted for the same node lists what the previous one started; another node sees none of it', async () => {
      const workload = aWorkload({ hostPort: port() });
      await runtime.ensure(workload);
      const again = options.create(options.nodeName);
      const adopted = await again.inspect(workload.uid);
      expect(adopted?.state).toBe('running');
      expect(adopted?.hostPort).toBe(workload.hostPort);
      const stranger = options.create(`${options.nodeName}-other`);
      expect((await stranger.list()).map((c) => c.uid)).not.toContain(workload.uid);
      expect(await stranger.listVolumes()).not.toContain(workload.uid);
    });
  });
}
