/**
 * The node agent as a real process on Docker: fencing across restarts, idle stop while the
 * orchestrator is down (reported in the next heartbeat), and volumes that keep files.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerNameFor } from '../../src/model/codespace.js';
import { dockerState, ensureBody, startAgentCluster, type AgentCluster } from './node-agent-cluster.js';
import {
  dockerContainersNamed,
  eventually,
  requireDockerAndImage,
  waitForHttp,
} from './node-agent-support.js';

requireDockerAndImage();

let cluster: AgentCluster;
beforeAll(async () => {
  cluster = await startAgentCluster();
});
afterAll(() => cluster.close());

describe('node agent lifecycle on Docker', () => {
  it('refuses a stale-epoch command, also after an agent restart', { timeout: 120_000 }, async () => {
    const node = await cluster.aNode('fence', 43_600);
    expect(
      (await cluster.send(node, 'PUT', '/v1/codespaces/fenced', { epoch: 7, body: ensureBody('fenced') }))
        .status,
    ).toBe(200);
    const stale = await cluster.send(node, 'POST', '/v1/codespaces/fenced/stop', {
      epoch: 6,
      body: { generation: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('STALE_EPOCH');
    await node.agent.kill('SIGKILL');
    await node.start();
    const afterRestart = await cluster.send(node, 'DELETE', '/v1/codespaces/fenced', { epoch: 6 });
    expect(afterRestart.status).toBe(409);
    expect(afterRestart.body.code).toBe('STALE_EPOCH');
    expect(dockerContainersNamed(containerNameFor('fenced'))).toHaveLength(1);
    const beat = await eventually(
      () => cluster.orchestrator.beats.filter((b) => b.nodeName === node.name && b.highestEpoch === 7).at(-1),
      10_000,
    );
    expect(beat.highestEpoch).toBe(7);
    await node.agent.kill('SIGTERM');
  });

  it(
    'stops an idle workspace while the orchestrator is unreachable and reports Idle in the next heartbeat',
    { timeout: 120_000 },
    async () => {
      const node = await cluster.aNode('idle', 43_650);
      const started = await cluster.send(node, 'PUT', '/v1/codespaces/sleepy', {
        body: ensureBody('sleepy', { idleTimeoutSeconds: 300 }),
      });
      expect(started.status).toBe(200);
      cluster.orchestrator.available = false;
      try {
        await eventually(() => (dockerState('sleepy') === 'exited' ? true : undefined), 20_000);
      } finally {
        cluster.orchestrator.available = true;
      }
      // A beat built while the stop was still in flight may say running; the next one says why it stopped.
      const reported = await eventually(
        () =>
          cluster.orchestrator.beats
            .filter((b) => b.nodeName === node.name)
            .flatMap((b) => b.containers)
            .find((c) => c.uid === 'sleepy' && c.state === 'exited'),
        10_000,
      );
      expect(reported).toMatchObject({ state: 'exited', stopReason: 'Idle', ready: false });
      await node.agent.kill('SIGTERM');
    },
  );

  it('keeps files written in the volume across stop and start', { timeout: 120_000 }, async () => {
    const node = await cluster.aNode('volume', 43_700);
    const first = await cluster.send(node, 'PUT', '/v1/codespaces/keeper', { body: ensureBody('keeper') });
    const base = `http://127.0.0.1:${first.body.container.hostPort}`;
    await waitForHttp(`${base}/healthz`);
    expect((await fetch(`${base}/files/notes.md`, { method: 'PUT', body: '# still here' })).status).toBe(204);
    expect(
      (await cluster.send(node, 'POST', '/v1/codespaces/keeper/stop', { body: { generation: 2 } })).body
        .container.state,
    ).toBe('exited');
    const again = await cluster.send(node, 'PUT', '/v1/codespaces/keeper', {
      body: ensureBody('keeper', { generation: 3 }),
    });
    expect(again.status).toBe(200);
    const after = `http://127.0.0.1:${again.body.container.hostPort}`;
    await waitForHttp(`${after}/healthz`);
    expect(await (await fetch(`${after}/files/notes.md`)).text()).toBe('# still here');
    expect((await cluster.send(node, 'DELETE', '/v1/codespaces/keeper')).status).toBe(200);
    expect(
      execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=dev.codeyard.node=${node.name}`], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('');
    await node.agent.kill('SIGTERM');
  });
});
