/**
 * Node agent start latency: time from the agent's `PUT /v1/codespaces/{uid}` ("ensure running")
 * to the container's first HTTP 200 on its loopback port, interleaved with bare dockerode
 * `create → start → first 200` of the same image with the same flags; then N concurrent starts
 * through the agent. `npx tsx bench/agent-start/run.ts [--quick]`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { CodespaceSpec } from '../../src/model/codespace.js';
import { generateSigningKey, issueAgentToken, nodeAudience, SigningKeyRing } from '../../src/tokens/index.js';
import { parseBenchArgs } from '../lib/bench-args.js';
import { startPinnedTsChild } from '../lib/child-process.js';
import { loadGeneratorCpu, pinProcess, systemUnderTestCpu } from '../lib/cpu-pinning.js';
import { freeLoopbackPort } from '../lib/free-port.js';
import { markdownTable } from '../lib/markdown-table.js';
import { loadAverage1m } from '../lib/process-cpu.js';
import { startFakeControlPlane } from '../proxy/control-plane.js';
import { bareCreateAndStart, bareRemove } from './bare-docker.js';
import { firstOk } from './first-ok.js';

const args = parseBenchArgs(process.argv.slice(2));
const startsPerImage = args.quick ? 2 : 20;
const concurrentStarts = args.quick ? 4 : 20;
const images = [
  { image: 'codeyard/test-workspace:latest', readinessPath: '/healthz' },
  { image: 'codeyard/workspace:latest', readinessPath: '/healthz' },
];
const resources = { cpu: 1, memoryMiB: 2048, diskGiB: 10 };
const pidsLimit = 1024;
/** Well away from the agent's default range; the bench's node owns these ports while it runs. */
const portRangeSize = 60;
const agentReadyTimeoutMs = 60_000;

interface Start {
  mode: 'agent' | 'bare';
  image: string;
  iteration: number;
  ms: number;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  pinProcess(process.pid, loadGeneratorCpu);
  const loadStart = loadAverage1m();
  const startedAt = new Date().toISOString();
  const docker = new Docker();
  for (const { image } of images) await docker.getImage(image).inspect();
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const control = await startFakeControlPlane(ring.jwks());
  const dataDir = await mkdtemp(join(tmpdir(), 'codeyard-bench-agent-start-'));
  const nodeName = `bench-start-${process.pid}`;
  const portBase = 45_000 + (process.pid % 40) * 100;
  const agentPort = await freeLoopbackPort();
  const agent = startPinnedTsChild({
    entry: 'src/node-agent/main.ts',
    cpu: systemUnderTestCpu,
    ipc: false,
    stdout: 'ignore',
    env: {
      CODEYARD_NODE_NAME: nodeName,
      CODEYARD_NODE_DATA_DIR: dataDir,
      CODEYARD_AGENT_PORT: String(agentPort),
      CODEYARD_ORCHESTRATOR_URL: control.url,
      CODEYARD_RUNTIME: 'docker',
      CODEYARD_PORT_RANGE: `${portBase}-${portBase + portRangeSize - 1}`,
      CODEYARD_MAX_CONTAINERS: String(Math.max(concurrentStarts, 20)),
      CODEYARD_NODE_CPU: '1024',
      CODEYARD_NODE_MEMORY_MIB: '1000000',
      CODEYARD_LOG_LEVEL: 'warn',
    },
  });
  const agentUrl = `http://127.0.0.1:${agentPort}`;
  const send = async (method: string, path: string, body?: unknown) => {
    // Agent tokens are short-lived: a fresh one per command, as the orchestrator does.
    const token = await issueAgentToken(ring, { audience: nodeAudience(nodeName), epoch: 1 });
    const response = await fetch(`${agentUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const answer = (await response.json()) as { container?: { hostPort?: number }; message?: string };
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${answer.message ?? ''}`);
    return answer;
  };
  const agentUids = new Set<string>();
  const bareIds = new Set<string>();
  const starts: Start[] = [];
  const concurrent: { image: string; ms: number[] }[] = [];
  try {
    const readyBy = Date.now() + agentReadyTimeoutMs;
    for (;;) {
      const ok = await fetch(`${agentUrl}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > readyBy) throw new Error('the node agent did not answer /healthz');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const spec = (image: string): CodespaceSpec => ({
      image,
      running: true,
      resources,
      idleTimeoutSeconds: 14_400,
      env: {},
    });
    const viaAgent = async (image: string, readinessPath: string, uid: string): Promise<number> => {
      agentUids.add(uid);
      const t0 = performance.now();
      const answer = await send('PUT', `/v1/codespaces/${uid}`, {
        name: uid,
        owner: 'bench',
        generation: 1,
        spec: spec(image),
      });
      const hostPort = answer.container?.hostPort;
      if (hostPort === undefined) throw new Error(`the agent gave ${uid} no host port`);
      return (await firstOk(hostPort, readinessPath)) - t0;
    };
    const removeViaAgent = async (uid: string): Promise<void> => {
      await send('DELETE', `/v1/codespaces/${uid}`);
      agentUids.delete(uid);
    };
    const bare = async (image: string, readinessPath: string, id: string): Promise<number> => {
      bareIds.add(id);
      const hostPort = await freeLoopbackPort();
      const t0 = performance.now();
      await bareCreateAndStart(docker, {
        id,
        image,
        hostPort,
        memoryMiB: resources.memoryMiB,
        cpu: resources.cpu,
        pidsLimit,
      });
      return (await firstOk(hostPort, readinessPath)) - t0;
    };

    // One unmeasured start per image and mode: image layers and the agent's code paths warm.
    for (const [index, { image, readinessPath }] of images.entries()) {
      await viaAgent(image, readinessPath, `warm-${index}`);
      await removeViaAgent(`warm-${index}`);
      await bare(image, readinessPath, `warm-${index}`);
      await bareRemove(docker, `warm-${index}`);
      bareIds.delete(`warm-${index}`);
    }
    for (let iteration = 0; iteration < startsPerImage; iteration += 1) {
      for (const [index, { image, readinessPath }] of images.entries()) {
        // Alternate which goes first so neither always follows the other's cleanup.
        const order: ('agent' | 'bare')[] = iteration % 2 === 0 ? ['agent', 'bare'] : ['bare', 'agent'];
        for (const mode of order) {
          const id = `s${index}-${iteration}`;
          const ms =
            mode === 'agent'
              ? await viaAgent(image, readinessPath, id)
              : await bare(image, readinessPath, id);
          starts.push({ mode, image, iteration, ms });
          console.log(`${image} ${mode} #${iteration}: ${ms.toFixed(0)} ms`);
          if (mode === 'agent') await removeViaAgent(id);
          else {
            await bareRemove(docker, id);
            bareIds.delete(id);
          }
        }
      }
    }
    // Concurrent starts through the agent (the test image: code-server ×20 would swamp this shared 2-core box).
    {
      const { image, readinessPath } = images[0]!;
      const uids = Array.from({ length: concurrentStarts }, (_, i) => `c-${i}`);
      const ms = await Promise.all(uids.map((uid) => viaAgent(image, readinessPath, uid)));
      concurrent.push({ image, ms });
      console.log(
        `${concurrentStarts} concurrent starts of ${image}: ${ms.map((x) => x.toFixed(0)).join(', ')} ms`,
      );
      for (const uid of uids) await removeViaAgent(uid);
    }

    const summary = images.map(({ image }) => {
      const of = (mode: 'agent' | 'bare') =>
        starts.filter((s) => s.image === image && s.mode === mode).map((s) => s.ms);
      const agentMs = of('agent');
      const bareMs = of('bare');
      return {
        image,
        starts: agentMs.length,
        agentMedianMs: quantile(agentMs, 0.5),
        agentP95Ms: quantile(agentMs, 0.95),
        bareMedianMs: quantile(bareMs, 0.5),
        bareP95Ms: quantile(bareMs, 0.95),
        addedMedianMs: quantile(agentMs, 0.5) - quantile(bareMs, 0.5),
        ratioMedian: quantile(agentMs, 0.5) / quantile(bareMs, 0.5),
      };
    });
    const concurrentSummary = concurrent.map((c) => ({
      image: c.image,
      count: c.ms.length,
      p50Ms: quantile(c.ms, 0.5),
      p99Ms: quantile(c.ms, 0.99),
      maxMs: Math.max(...c.ms),
    }));
    const result = {
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: args.quick,
      loadAverage1m: { start: loadStart, end: loadAverage1m() },
      resources,
      summary,
      concurrent: concurrentSummary,
      starts,
      concurrentRaw: concurrent,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile(
      `bench/results/agent-start${args.quick ? '.quick' : ''}.json`,
      JSON.stringify(result, null, 2),
    );
    console.log(
      '\n' +
        markdownTable(
          [
            'image',
            'starts each',
            'agent p50 ms',
            'agent p95 ms',
            'bare p50 ms',
            'bare p95 ms',
            'added p50 ms',
            'agent / bare p50',
          ],
          summary.map((s) => [
            s.image,
            s.starts,
            s.agentMedianMs,
            s.agentP95Ms,
            s.bareMedianMs,
            s.bareP95Ms,
            s.addedMedianMs,
            `${s.ratioMedian.toFixed(2)}×`,
          ]),
          0,
        ),
    );
    console.log(
      '\n' +
        markdownTable(
          ['image', 'concurrent starts', 'p50 ms', 'p99 ms', 'max ms'],
          concurrentSummary.map((c) => [c.image, c.count, c.p50Ms, c.p99Ms, c.maxMs]),
          0,
        ),
    );
    console.log(
      `\nload average (1 min): ${result.loadAverage1m.start} at start, ${result.loadAverage1m.end} at end`,
    );
  } finally {
    for (const uid of agentUids) await send('DELETE', `/v1/codespaces/${uid}`).catch(() => undefined);
    for (const id of bareIds) await bareRemove(docker, id);
    await agent.stop();
    await removeLeftovers(docker, nodeName);
    await control.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Anything still labelled with this bench's node name (an interrupted DELETE): removed by id. */
async function removeLeftovers(docker: Docker, nodeName: string): Promise<void> {
  const filters = { label: [`dev.codeyard.node=${nodeName}`] };
  for (const info of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(info.Id)
      .remove({ force: true })
      .catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters });
  for (const volume of Volumes ?? [])
    await docker
      .getVolume(volume.Name)
      .remove()
      .catch(() => undefined);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
