/**
 * The node agent as a real process against the real Docker engine and the test workspace
 * image: capacity, and crash recovery (kill -9 during a start). Lifecycle behaviour (fencing,
 * idle, volumes) is in node-agent-lifecycle.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerNameFor } from '../../src/model/codespace.js';
import { dockerLabel, ensureBody, startAgentCluster, type AgentCluster } from './node-agent-cluster.js';
import {
  dockerContainersNamed,
  eventually,
  removeDockerNode,
  requireDockerAndImage,
  waitForHttp,
} from './node-agent-support.js';

requireDockerAndImage();

let cluster: AgentCluster;
beforeAll(async () => {
  cluster = await startAgentCluster();
});
afterAll(() => cluster.close());

describe('node agent on Docker', () => {
  it(
    'starts 20 containers on one node and refuses the 21st with a clear reason',
    { timeout: 240_000 },
    async () => {
      const node = await cluster.aNode('capacity', 43_500);
      const uids = Array.from({ length: 20 }, (_, i) => `cap-${i}`);
      for (let i = 0; i < uids.length; i += 4) {
        const batch = await Promise.all(
          uids
            .slice(i, i + 4)
            .map((uid) => cluster.send(node, 'PUT', `/v1/codespaces/${uid}`, { body: ensureBody(uid) })),
        );
        for (const result of batch) expect(result.status, JSON.stringify(result.body)).toBe(200);
      }
      const refused = await cluster.send(node, 'PUT', '/v1/codespaces/cap-20', {
        body: ensureBody('cap-20'),
      });
      expect(refused.status).toBe(507);
      expect(refused.body).toMatchObject({ code: 'NODE_FULL' });
      expect(refused.body.message).toContain('already runs 20 of at most 20 containers');
      const running = execFileSync(
        'docker',
        ['ps', '-q', '--filter', `label=dev.codeyard.node=${node.name}`],
        { encoding: 'utf8' },
      );
      expect(running.split('\n').filter(Boolean)).toHaveLength(20);
      const listed = await cluster.send(node, 'GET', '/v1/codespaces');
      const ports = listed.body.containers.map((c) => c.hostPort);
      expect(new Set(ports).size).toBe(20);
      // Published on loopback only, on the port the agent reports.
      const bindings = execFileSync(
        'docker',
        ['inspect', '-f', '{{json .HostConfig.PortBindings}}', containerNameFor('cap-0')],
        {
          encoding: 'utf8',
        },
      );
      const cap0 = listed.body.containers.find((c) => c.uid === 'cap-0')!;
      expect(JSON.parse(bindings)['8080/tcp']).toEqual([
        { HostIp: '127.0.0.1', HostPort: String(cap0.hostPort) },
      ]);
      const beat = await eventually(
        () => cluster.orchestrator.beats.filter((b) => b.nodeName === node.name).at(-1),
        10_000,
      );
      await eventually(
        () =>
          cluster.orchestrator.beats.filter((b) => b.nodeName === node.name).at(-1)!.containers.length === 20
            ? true
            : undefined,
        10_000,
      );
      expect(beat.capacity.slots).toBe(20);
      await node.agent.kill('SIGTERM');
      removeDockerNode(node.name);
    },
  );

  it(
    'kill -9 during a start, then restart: exactly one container for that codespace, KV rebuilt, ports consistent',
    { timeout: 180_000 },
    async () => {
      const node = await cluster.aNode('crash', 43_550);
      await cluster.send(node, 'PUT', '/v1/codespaces/steady', { body: ensureBody('steady') });
      // Kill at several moments of the start (before create, during create, during start).
      const killDelaysMs = [40, 150, 350];
      for (const delayMs of killDelaysMs) {
        const uid = `crashy-${delayMs}`;
        const inFlight = cluster
          .send(node, 'PUT', `/v1/codespaces/${uid}`, { body: ensureBody(uid) })
          .catch(() => undefined);
        await sleep(delayMs);
        await node.agent.kill('SIGKILL');
        await inFlight;
        expect(dockerContainersNamed(containerNameFor(uid)).length).toBeLessThanOrEqual(1);
        await node.start();
        // The orchestrator retries its command: the node converges on one running container.
        // Like the reconciler, retry a 500 (Docker may still be finishing what the dead agent asked for).
        let retried = await cluster.send(node, 'PUT', `/v1/codespaces/${uid}`, { body: ensureBody(uid) });
        for (let attempt = 1; retried.status === 500 && attempt < 3; attempt += 1) {
          retried = await cluster.send(node, 'PUT', `/v1/codespaces/${uid}`, { body: ensureBody(uid) });
        }
        expect(retried.status, node.agent.output()).toBe(200);
        expect(dockerContainersNamed(containerNameFor(uid))).toHaveLength(1);
        const port = retried.body.container.hostPort!;
        expect(Number(dockerLabel(uid, 'dev.codeyard.host-port'))).toBe(port);
        await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      }
      await node.agent.kill('SIGKILL');
      await node.start();
      const listed = (await cluster.send(node, 'GET', '/v1/codespaces')).body.containers as {
        name: string;
        hostPort: number;
      }[];
      const kv = JSON.parse(await readFile(join(node.dataDir, 'kv.json'), 'utf8'));
      expect(Object.keys(kv.codespaces).sort()).toEqual(['crashy-150', 'crashy-350', 'crashy-40', 'steady']);
      const ports = listed.map((c) => c.hostPort);
      expect(new Set(ports).size).toBe(4);
      for (const c of listed) {
        expect(kv.codespaces[c.name]).toMatchObject({ state: 'running', hostPort: c.hostPort });
        expect(Number(dockerLabel(kv.codespaces[c.name].uid, 'dev.codeyard.host-port'))).toBe(c.hostPort);
        expect(kv.freePorts).not.toContain(c.hostPort);
      }
      expect(kv.freePorts).toHaveLength(50 - 4);
      await node.agent.kill('SIGTERM');
    },
  );
});
