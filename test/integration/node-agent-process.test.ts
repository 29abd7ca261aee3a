/**
 * The node agent as a real process with the process runtime (no Docker): workspaces outlive a
 * kill -9 of the agent and the restarted agent adopts them by pid instead of starting them twice.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processStartTicks } from '../../src/node-agent/runtime/process-state-file.js';
import { ensureBody, startAgentCluster, type AgentCluster } from './node-agent-cluster.js';
import { waitForHttp } from './node-agent-support.js';

let cluster: AgentCluster;
beforeAll(async () => {
  cluster = await startAgentCluster();
});
afterAll(() => cluster.close());

async function pidOf(dataDir: string, uid: string): Promise<number> {
  return (JSON.parse(await readFile(join(dataDir, 'processes', `${uid}.json`), 'utf8')) as { pid: number })
    .pid;
}

describe('node agent with the process runtime', () => {
  it(
    'adopts a running workspace after kill -9 instead of starting it twice',
    { timeout: 120_000 },
    async () => {
      const node = await cluster.aNode('process', 43_750, { runtime: 'process' });
      const health = (await (await fetch(`${node.agent.url}/healthz`)).json()) as { runtime: string };
      expect(health.runtime).toBe('process');
      const started = await cluster.send(node, 'PUT', '/v1/codespaces/local-one', {
        body: ensureBody('local-one'),
      });
      expect(started.status).toBe(200);
      const port = started.body.container.hostPort!;
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      await fetch(`http://127.0.0.1:${port}/files/kept.txt`, { method: 'PUT', body: 'local files' });
      const pid = await pidOf(node.dataDir, 'local-one');
      await node.agent.kill('SIGKILL');
      // The workspace keeps serving while its agent is gone.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await node.start();
      const again = await cluster.send(node, 'PUT', '/v1/codespaces/local-one', {
        body: ensureBody('local-one'),
      });
      expect(again.body.container).toMatchObject({
        hostPort: port,
        startedAt: started.body.container.startedAt,
      });
      expect(await pidOf(node.dataDir, 'local-one')).toBe(pid);
      const stopped = await cluster.send(node, 'POST', '/v1/codespaces/local-one/stop', {
        body: { generation: 1 },
      });
      expect(stopped.body.container.state).toBe('exited');
      // Gone (or a zombie awaiting its reaper: its parent, the first agent, was killed).
      expect(await processStartTicks(pid)).toBeUndefined();
      const restarted = await cluster.send(node, 'PUT', '/v1/codespaces/local-one', {
        body: ensureBody('local-one', { generation: 2 }),
      });
      const newPort = restarted.body.container.hostPort!;
      await waitForHttp(`http://127.0.0.1:${newPort}/healthz`);
      expect(await (await fetch(`http://127.0.0.1:${newPort}/files/kept.txt`)).text()).toBe('local files');
      await node.agent.kill('SIGTERM');
    },
  );

  it('refuses to start on an invalid setting, naming it', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/node-agent/main.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { PATH: process.env.PATH ?? '', CODEYARD_MAX_CONTAINERS: 'lots' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('invalid CODEYARD_MAX_CONTAINERS: "lots" is not a whole number');
  });
});
