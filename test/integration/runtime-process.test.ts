import { freeLoopbackPort } from '../../src/fleet/local/free-port.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ProcessRuntime } from '../../src/node-agent/runtime/process-runtime.js';
import { aWorkload, waitForHttp } from './node-agent-support.js';
import { describeRuntimeContract } from './runtime-contract.js';

const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-runtime-process-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describeRuntimeContract('process', {
  nodeName: `rt-process-${process.pid}`,
  firstPort: 43_200,
  // Each node has its own data dir, as on a real machine.
  create: (nodeName) => new ProcessRuntime({ nodeName, dataDir: join(dataDir, nodeName) }),
  cleanup: async (nodeName) => {
    const runtime = new ProcessRuntime({ nodeName, dataDir: join(dataDir, nodeName) });
    for (const container of await runtime.list()) await runtime.remove(container.uid);
  },
});

describe('process runtime workspace stub', () => {
  const nodeName = `rt-process-stub-${process.pid}`;
  const runtime = new ProcessRuntime({ nodeName, dataDir: join(dataDir, nodeName) });
  afterAll(async () => {
    for (const container of await runtime.list()) await runtime.remove(container.uid);
  });

  it('listens on loopback only and echoes WebSocket messages on /echo', async () => {
    const workload = aWorkload({ hostPort: await freeLoopbackPort() });
    await runtime.ensure(workload);
    await waitForHttp(`http://127.0.0.1:${workload.hostPort}/healthz`);
    const listening = execFileSync('ss', ['-ltnH', `sport = :${workload.hostPort}`], { encoding: 'utf8' });
    expect(listening).toContain(`127.0.0.1:${workload.hostPort}`);
    const socket = new WebSocket(`ws://127.0.0.1:${workload.hostPort}/echo`);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('hello workspace'));
      socket.once('message', (data) => resolve(String(data)));
      socket.once('error', reject);
    });
    socket.close();
    expect(echoed).toBe('hello workspace');
  });
});
