/**
 * A fast loop for tuning the node proxy: only the bare upstream and the native proxy, A-B-A,
 * printing proxy CPU per operation against the upstream's (same run and direct run). Not a
 * result for the docs (run.ts is): `npx tsx bench/proxy/iterate.ts [http|ws] [phaseMs] [rounds]`.
 * With BENCH_BASELINE_ROOT=<dir> (a copy of another version's `src`, e.g.
 * `git archive HEAD src package.json tsconfig.json | tar -x -C <dir>` plus a node_modules
 * link), a second proxy runs that version in the same rounds, so a change is compared with
 * what it replaces under the same load.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateSigningKey,
  issueAccessToken,
  nodeAudience,
  SigningKeyRing,
} from '../../src/tokens/index.js';
import { loadGeneratorCpu, pinProcess } from '../lib/cpu-pinning.js';
import { runHttpLoad } from '../lib/http-load.js';
import { clockTicksPerSecond, loadAverage1m, processCpuMs } from '../lib/process-cpu.js';
import { runWsPingPong } from '../lib/ws-pingpong.js';
import {
  benchCodespace,
  benchNodeName,
  benchUser,
  startNginx,
  startNodeProxy,
  startUpstream,
  writeKv,
  type Sut,
} from './contenders.js';
import { startFakeControlPlane } from './control-plane.js';

const kind = process.argv[2] === 'ws' ? 'ws' : 'http';
const phaseMs = Number(process.argv[3] ?? 3_000);
const rounds = Number(process.argv[4] ?? 2);
const busyConnections = 32;
const forwarder = (process.env.BENCH_FORWARDER ?? 'raw') as 'raw' | 'native' | 'reply-from';
const baselineRoot = process.env.BENCH_BASELINE_ROOT;
const withNginx = process.env.BENCH_WITH_NGINX === '1';

/** User and system CPU ms of a process (/proc/<pid>/stat), to see how much of the proxy's time is the kernel's. */
function userSystemMs(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const msPerTick = 1000 / clockTicksPerSecond;
  return [Number(fields[11]) * msPerTick, Number(fields[12]) * msPerTick];
}

/** Voluntary plus involuntary context switches of a process so far (/proc/<pid>/status). */
function contextSwitches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let total = 0;
  for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm))
    total += Number(match[1]);
  return total;
}

async function phase(port: number, path: string, cookie: string, connections: number) {
  if (kind === 'http') {
    const r = await runHttpLoad({ port, path, headers: { cookie }, connections, durationMs: phaseMs });
    return { ops: r.requests, errors: r.errors, p50: r.latency.quantileMs(0.5), r };
  }
  const r = await runWsPingPong({
    url: `ws://127.0.0.1:${port}${path}`,
    headers: { cookie },
    connections,
    durationMs: phaseMs,
    messageBytes: 64,
  });
  return { ops: r.messages, errors: r.errors, p50: r.latency.quantileMs(0.5), r };
}

async function main(): Promise<void> {
  pinProcess(process.pid, loadGeneratorCpu);
  const dir = await mkdtemp(join(tmpdir(), 'codeyard-bench-iterate-'));
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const control = await startFakeControlPlane(ring.jwks());
  const suts: Sut[] = [];
  try {
    const upstream = await startUpstream();
    suts.push(upstream);
    await writeKv(join(dir, 'data'), upstream.port, 0);
    const proxy = await startNodeProxy({
      forwarder: forwarder,
      dataDir: join(dir, 'data'),
      controlPlaneUrl: control.url,
      agentId: 'native',
      logFile: join(dir, 'proxy.log'),
    });
    suts.push(proxy);
    const baseline = baselineRoot
      ? await startNodeProxy({
          forwarder,
          dataDir: join(dir, 'data'),
          controlPlaneUrl: control.url,
          agentId: 'baseline',
          logFile: join(dir, 'baseline.log'),
          sourceRoot: baselineRoot,
        })
      : undefined;
    if (baseline) suts.push(baseline);
    const nginx = withNginx ? await startNginx(upstream.port, join(dir, 'nginx')) : undefined;
    if (nginx) suts.push(nginx);
    const token = await issueAccessToken(ring, {
      user: benchUser,
      codespace: benchCodespace,
      audience: nodeAudience(benchNodeName),
    });
    const answer = await fetch(
      `http://127.0.0.1:${proxy.port}/cs/${benchCodespace}/?codeyard_token=${token}`,
      {
        redirect: 'manual',
      },
    );
    const cookie = answer.headers.get('set-cookie')!.split(';')[0]!;
    const proxyPath = `/cs/${benchCodespace}/`;
    const targets = [
      { id: 'direct', port: upstream.port, path: '/', pid: proxy.pid },
      { id: forwarder, port: proxy.port, path: proxyPath, pid: proxy.pid },
      ...(baseline ? [{ id: 'baseline', port: baseline.port, path: proxyPath, pid: baseline.pid }] : []),
      ...(nginx ? [{ id: 'nginx', port: nginx.port, path: '/', pid: nginx.pid }] : []),
    ];
    for (const t of targets) await phase(t.port, t.path, cookie, busyConnections);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const one = await phase(t.port, t.path, cookie, 1);
        const p0 = processCpuMs(t.pid);
        const [user0, system0] = userSystemMs(t.pid);
        const u0 = processCpuMs(upstream.pid);
        const switches0 = [contextSwitches(t.pid), contextSwitches(upstream.pid)];
        const busy = await phase(t.port, t.path, cookie, busyConnections);
        const proxyUs = ((processCpuMs(t.pid) - p0) * 1000) / busy.ops;
        const upUs = ((processCpuMs(upstream.pid) - u0) * 1000) / busy.ops;
        const [user1, system1] = userSystemMs(t.pid);
        const proxySwitches = (contextSwitches(t.pid) - switches0[0]!) / busy.ops;
        const upstreamSwitches = (contextSwitches(upstream.pid) - switches0[1]!) / busy.ops;
        const systemShare = (system1 - system0) / Math.max(1, user1 - user0 + system1 - system0);
        console.log(
          `${kind} r${round} ${t.id}: p50@1 ${one.p50.toFixed(3)} ms, busy ${((busy.ops * 1000) / phaseMs).toFixed(0)}/s errors ${busy.errors + one.errors}, proxy ${proxyUs.toFixed(1)} µs/op, upstream ${upUs.toFixed(1)} µs/op, same-run ${(proxyUs / upUs).toFixed(2)}×, proxy system ${(systemShare * 100).toFixed(0)} %, switches/op proxy ${proxySwitches.toFixed(2)} upstream ${upstreamSwitches.toFixed(2)}, load ${loadAverage1m()}`,
        );
      }
    }
  } finally {
    for (const s of suts.reverse()) await s.stop();
    await control.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
