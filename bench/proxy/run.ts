/**
 * Node proxy benchmark: CPU time per request / message of our proxy (raw, native and reply-from
 * forwarders) against the bare upstream, configurable-http-proxy and nginx, interleaved in
 * the same run. `npx tsx bench/proxy/run.ts [--quick]`; `--only soak` runs the many-WebSocket
 * memory soak instead (see soak.ts). Start from a shell with `ulimit -n 20000`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateSigningKey,
  issueAccessToken,
  nodeAudience,
  SigningKeyRing,
} from '../../src/tokens/index.js';
import { parseBenchArgs } from '../lib/bench-args.js';
import { loadGeneratorCpu, pinProcess } from '../lib/cpu-pinning.js';
import { runHttpLoad } from '../lib/http-load.js';
import { markdownTable } from '../lib/markdown-table.js';
import { loadAverage1m, processCpuMs } from '../lib/process-cpu.js';
import { runWsPingPong } from '../lib/ws-pingpong.js';
import {
  benchCodespace,
  benchNodeName,
  benchUser,
  startChp,
  startNginx,
  startNodeProxy,
  startUpstream,
  writeKv,
  type Sut,
} from './contenders.js';
import { startFakeControlPlane } from './control-plane.js';
import { runSoak } from './soak.js';

const args = parseBenchArgs(process.argv.slice(2));
const timing = args.quick
  ? { warmupMs: 2_000, phaseMs: 1_500, rounds: 1 }
  : { warmupMs: 10_000, phaseMs: 5_000, rounds: 3 };
/** Enough concurrent connections to keep one core of proxy busy; latency at 1 is measured apart. */
const busyConnections = 32;
const wsMessageBytes = 64;
const extraRoutesForTableCost = 9_999;

interface Contender {
  id: string;
  label: string;
  sut: Sut | undefined;
  port: number;
  path: string;
  headers: Record<string, string>;
  websocket: boolean;
}

interface PhaseSample {
  round: number;
  operations: number;
  errors: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  proxyCpuMsPerOp: number;
  upstreamCpuMsPerOp: number;
}

type PhaseName = 'http1' | 'httpBusy' | 'ws1' | 'wsBusy';

async function sessionCookie(ring: SigningKeyRing, port: number): Promise<string> {
  const token = await issueAccessToken(ring, {
    user: benchUser,
    codespace: benchCodespace,
    audience: nodeAudience(benchNodeName),
  });
  const answer = await fetch(`http://127.0.0.1:${port}/cs/${benchCodespace}/?codeyard_token=${token}`, {
    redirect: 'manual',
  });
  const setCookie = answer.headers.get('set-cookie');
  if (answer.status !== 302 || !setCookie) throw new Error(`token exchange answered ${answer.status}`);
  return setCookie.split(';')[0]!;
}

async function measure(
  contender: Contender,
  upstream: Sut,
  phase: PhaseName,
  durationMs: number,
  round: number,
): Promise<PhaseSample> {
  const connections = phase === 'http1' || phase === 'ws1' ? 1 : busyConnections;
  const pids = contender.sut ? [contender.sut.pid] : [];
  const proxyBefore = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const upstreamBefore = processCpuMs(upstream.pid);
  let operations: number;
  let errors: number;
  let elapsedMs: number;
  let latency;
  if (phase === 'http1' || phase === 'httpBusy') {
    const result = await runHttpLoad({
      port: contender.port,
      path: contender.path,
      headers: contender.headers,
      connections,
      durationMs,
    });
    ({ requests: operations, errors, elapsedMs, latency } = result);
  } else {
    const result = await runWsPingPong({
      url: `ws://127.0.0.1:${contender.port}${contender.path}`,
      headers: contender.headers,
      connections,
      durationMs,
      messageBytes: wsMessageBytes,
    });
    ({ messages: operations, errors, elapsedMs, latency } = result);
  }
  const proxyCpu = pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) - proxyBefore;
  const upstreamCpu = processCpuMs(upstream.pid) - upstreamBefore;
  return {
    round,
    operations,
    errors,
    opsPerSecond: (operations * 1000) / elapsedMs,
    p50Ms: latency.quantileMs(0.5),
    p99Ms: latency.quantileMs(0.99),
    proxyCpuMsPerOp: proxyCpu / Math.max(1, operations),
    upstreamCpuMsPerOp: upstreamCpu / Math.max(1, operations),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  pinProcess(process.pid, loadGeneratorCpu);
  if (args.only === 'soak') {
    await runSoak({ quick: args.quick });
    return;
  }
  const loadStart = loadAverage1m();
  const startedAt = new Date().toISOString();
  const dir = await mkdtemp(join(tmpdir(), 'codeyard-bench-proxy-'));
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const control = await startFakeControlPlane(ring.jwks());
  const suts: Sut[] = [];
  try {
    const upstream = await startUpstream();
    suts.push(upstream);
    await writeKv(join(dir, 'one-route'), upstream.port, 0);
    await writeKv(join(dir, 'many-routes'), upstream.port, extraRoutesForTableCost);
    const proxyLog = join(dir, 'proxies.log');
    const start = async (
      id: string,
      forwarder: 'raw' | 'native' | 'reply-from',
      data: string,
    ): Promise<Sut> => {
      const sut = await startNodeProxy({
        forwarder,
        dataDir: join(dir, data),
        controlPlaneUrl: control.url,
        agentId: id,
        logFile: proxyLog,
      });
      suts.push(sut);
      return sut;
    };
    const raw = await start('raw', 'raw', 'one-route');
    const raw10k = await start('raw-10k', 'raw', 'many-routes');
    const native = await start('native', 'native', 'one-route');
    const replyFrom = await start('reply-from', 'reply-from', 'one-route');
    const chp = await startChp(upstream.port, join(dir, 'chp.log'));
    suts.push(chp);
    await mkdir(join(dir, 'nginx'));
    const nginx = await startNginx(upstream.port, join(dir, 'nginx'));
    suts.push(nginx);

    const cookieFor = async (sut: Sut) => ({ cookie: await sessionCookie(ring, sut.port) });
    const anyCookie = await cookieFor(raw);
    const proxyPath = `/cs/${benchCodespace}/`;
    const contenders: Contender[] = [
      {
        id: 'direct',
        label: 'direct (bare upstream)',
        sut: undefined,
        port: upstream.port,
        path: '/',
        headers: anyCookie,
        websocket: true,
      },
      {
        id: 'raw',
        label: 'codeyard proxy, raw (default)',
        sut: raw,
        port: raw.port,
        path: proxyPath,
        headers: anyCookie,
        websocket: true,
      },
      {
        id: 'raw-10k',
        label: 'codeyard proxy, raw, 10,000 routes',
        sut: raw10k,
        port: raw10k.port,
        path: proxyPath,
        headers: await cookieFor(raw10k),
        websocket: false,
      },
      // The WebSocket relay is the same code whatever the HTTP forwarder: measured once, on raw.
      {
        id: 'native',
        label: 'codeyard proxy, native',
        sut: native,
        port: native.port,
        path: proxyPath,
        headers: await cookieFor(native),
        websocket: false,
      },
      {
        id: 'reply-from',
        label: 'codeyard proxy, reply-from',
        sut: replyFrom,
        port: replyFrom.port,
        path: proxyPath,
        headers: await cookieFor(replyFrom),
        websocket: false,
      },
      {
        id: 'chp',
        label: 'configurable-http-proxy 5',
        sut: chp,
        port: chp.port,
        path: '/',
        headers: anyCookie,
        websocket: true,
      },
      {
        id: 'nginx',
        label: 'nginx (1 worker)',
        sut: nginx,
        port: nginx.port,
        path: '/',
        headers: anyCookie,
        websocket: true,
      },
    ];
    const phasesFor = (c: Contender): PhaseName[] =>
      c.websocket ? ['http1', 'httpBusy', 'ws1', 'wsBusy'] : ['http1', 'httpBusy'];

    console.log(`warming up every contender (${timing.warmupMs} ms each)…`);
    for (const contender of contenders) {
      for (const phase of phasesFor(contender).filter((p) => p.endsWith('Busy'))) {
        const sample = await measure(contender, upstream, phase, timing.warmupMs / 2, -1);
        if (sample.operations === 0 || sample.errors > 0)
          throw new Error(
            `${contender.id} ${phase}: ${sample.operations} ok, ${sample.errors} errors in warm-up`,
          );
      }
    }
    const postsBefore = new Map(control.activityPosts);
    const measuredFrom = Date.now();
    const samples: Record<string, Partial<Record<PhaseName, PhaseSample[]>>> = {};
    for (let round = 0; round < timing.rounds; round += 1) {
      // A-B-A: odd rounds run the contenders in reverse, so drift in machine load hits all alike.
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        for (const phase of phasesFor(contender)) {
          const sample = await measure(contender, upstream, phase, timing.phaseMs, round);
          ((samples[contender.id] ??= {})[phase] ??= []).push(sample);
          console.log(
            `round ${round} ${contender.id} ${phase}: ${sample.opsPerSecond.toFixed(0)}/s p50 ${sample.p50Ms} ms, proxy ${(sample.proxyCpuMsPerOp * 1000).toFixed(1)} µs/op, upstream ${(sample.upstreamCpuMsPerOp * 1000).toFixed(1)} µs/op, errors ${sample.errors}`,
          );
        }
      }
    }
    const measuredMs = Date.now() - measuredFrom;
    const forwarded = (id: string) =>
      Object.values(samples[id] ?? {}).reduce(
        (sum, list) => sum + list.reduce((s, x) => s + x.operations, 0),
        0,
      );
    const activity = ['raw', 'raw-10k', 'native', 'reply-from'].map((id) => ({
      proxy: id,
      operationsForwarded: forwarded(id),
      activityPosts: (control.activityPosts.get(id) ?? 0) - (postsBefore.get(id) ?? 0),
      windowSeconds: measuredMs / 1000,
    }));

    // Per round: proxy CPU per op over the bare upstream's CPU per op in the direct run of that round.
    const ratio = (id: string, phase: PhaseName, which: 'proxy' | 'total'): number[] =>
      (samples[id]?.[phase] ?? []).map((sample) => {
        const direct = samples.direct![phase]!.find((d) => d.round === sample.round)!;
        const own =
          which === 'proxy' ? sample.proxyCpuMsPerOp : sample.proxyCpuMsPerOp + sample.upstreamCpuMsPerOp;
        return own / direct.upstreamCpuMsPerOp;
      });
    // Per round: proxy CPU per op over the upstream's own CPU per op in the same (proxied) run.
    const sameRun = (id: string, phase: PhaseName): number[] =>
      (samples[id]?.[phase] ?? []).map((sample) => sample.proxyCpuMsPerOp / sample.upstreamCpuMsPerOp);
    const summary = contenders.map((c) => {
      const s = samples[c.id]!;
      const pick = (phase: PhaseName, key: keyof PhaseSample) => median((s[phase] ?? []).map((x) => x[key]));
      return {
        id: c.id,
        label: c.label,
        http: {
          cpuMultiple: median(ratio(c.id, 'httpBusy', 'proxy')),
          cpuMultipleRounds: ratio(c.id, 'httpBusy', 'proxy'),
          totalCpuMultiple: median(ratio(c.id, 'httpBusy', 'total')),
          sameRunCpuMultiple: median(sameRun(c.id, 'httpBusy')),
          proxyCpuMicrosPerRequest: pick('httpBusy', 'proxyCpuMsPerOp') * 1000,
          upstreamCpuMicrosPerRequest: pick('httpBusy', 'upstreamCpuMsPerOp') * 1000,
          requestsPerSecond: pick('httpBusy', 'opsPerSecond'),
          busyP50Ms: pick('httpBusy', 'p50Ms'),
          busyP99Ms: pick('httpBusy', 'p99Ms'),
          oneConnectionP50Ms: pick('http1', 'p50Ms'),
          oneConnectionP99Ms: pick('http1', 'p99Ms'),
          addedP50MicrosAtOneConnection:
            (pick('http1', 'p50Ms') - median(samples.direct!.http1!.map((x) => x.p50Ms))) * 1000,
        },
        websocket: c.websocket
          ? {
              cpuMultiple: median(ratio(c.id, 'wsBusy', 'proxy')),
              cpuMultipleRounds: ratio(c.id, 'wsBusy', 'proxy'),
              sameRunCpuMultiple: median(sameRun(c.id, 'wsBusy')),
              proxyCpuMicrosPerMessage: pick('wsBusy', 'proxyCpuMsPerOp') * 1000,
              upstreamCpuMicrosPerMessage: pick('wsBusy', 'upstreamCpuMsPerOp') * 1000,
              messagesPerSecond: pick('wsBusy', 'opsPerSecond'),
              oneConnectionRttP50Ms: pick('ws1', 'p50Ms'),
              oneConnectionRttP99Ms: pick('ws1', 'p99Ms'),
              addedRttP50MicrosAtOneConnection:
                (pick('ws1', 'p50Ms') - median(samples.direct!.ws1!.map((x) => x.p50Ms))) * 1000,
            }
          : undefined,
      };
    });
    const tableCost = (() => {
      const one = summary.find((x) => x.id === 'raw')!.http.proxyCpuMicrosPerRequest;
      const many = summary.find((x) => x.id === 'raw-10k')!.http.proxyCpuMicrosPerRequest;
      return { oneRouteMicros: one, tenThousandRoutesMicros: many, costPercent: ((many - one) / one) * 100 };
    })();
    const proxyLogText = await readFile(proxyLog, 'utf8').catch(() => '');
    const result = {
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: args.quick,
      timing,
      busyConnections,
      wsMessageBytes,
      loadAverage1m: { start: loadStart, end: loadAverage1m() },
      definition:
        'cpuMultiple = contender process CPU time (utime+stime) per request or message / the bare upstream process CPU per request or message in the direct run of the same round; median over rounds. sameRunCpuMultiple = contender CPU per op / the upstream CPU per op in the same proxied run (same request rate). totalCpuMultiple = (contender + upstream CPU in the proxied run) / bare upstream CPU.',
      summary,
      tableCost,
      activity,
      proxyLogErrorLines: proxyLogText.split('\n').filter((line) => /"level":(50|60)|uncaught/i.test(line))
        .length,
      samples,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile(`bench/results/proxy${args.quick ? '.quick' : ''}.json`, JSON.stringify(result, null, 2));
    printTables(result.summary, tableCost, activity, result.loadAverage1m);
  } finally {
    for (const sut of suts.reverse()) await sut.stop();
    await control.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTables(
  summary: {
    label: string;
    http: Record<string, number | number[]>;
    websocket: Record<string, number | number[]> | undefined;
  }[],
  tableCost: { oneRouteMicros: number; tenThousandRoutesMicros: number; costPercent: number },
  activity: { proxy: string; operationsForwarded: number; activityPosts: number; windowSeconds: number }[],
  load: { start: number; end: number },
): void {
  const n = (value: number | number[] | undefined) => (typeof value === 'number' ? value : Number.NaN);
  console.log(`\nHTTP, ${busyConnections} keep-alive connections (CPU) and 1 connection (added latency)\n`);
  console.log(
    markdownTable(
      [
        'contender',
        'CPU / req vs bare upstream',
        'CPU / req vs upstream, same run',
        'proxy µs CPU / req',
        'req/s',
        'p50 ms',
        'p99 ms',
        'p50 ms @1 conn',
        'added p50 µs @1 conn',
      ],
      summary.map((s) => [
        s.label,
        `${n(s.http.cpuMultiple).toFixed(2)}×`,
        `${n(s.http.sameRunCpuMultiple).toFixed(2)}×`,
        n(s.http.proxyCpuMicrosPerRequest),
        n(s.http.requestsPerSecond).toFixed(0),
        n(s.http.busyP50Ms),
        n(s.http.busyP99Ms),
        n(s.http.oneConnectionP50Ms),
        n(s.http.addedP50MicrosAtOneConnection).toFixed(0),
      ]),
    ),
  );
  console.log(
    `\nWebSocket echo, ${wsMessageBytes}-byte messages: ${busyConnections} connections (CPU), 1 connection (round trip)\n`,
  );
  console.log(
    markdownTable(
      [
        'contender',
        'CPU / msg vs bare echo server',
        'CPU / msg vs echo server, same run',
        'proxy µs CPU / msg',
        'msg/s',
        'RTT p50 ms @1 conn',
        'RTT p99 ms @1 conn',
        'added RTT p50 µs',
      ],
      summary
        .filter((s) => s.websocket)
        .map((s) => [
          s.label,
          `${n(s.websocket!.cpuMultiple).toFixed(2)}×`,
          `${n(s.websocket!.sameRunCpuMultiple).toFixed(2)}×`,
          n(s.websocket!.proxyCpuMicrosPerMessage),
          n(s.websocket!.messagesPerSecond).toFixed(0),
          n(s.websocket!.oneConnectionRttP50Ms),
          n(s.websocket!.oneConnectionRttP99Ms),
          n(s.websocket!.addedRttP50MicrosAtOneConnection).toFixed(0),
        ]),
    ),
  );
  console.log(
    `\nRoute table: ${tableCost.oneRouteMicros.toFixed(1)} µs CPU/request with 1 route, ${tableCost.tenThousandRoutesMicros.toFixed(1)} with 10,000 (${tableCost.costPercent.toFixed(1)}%)`,
  );
  console.log('\nActivity reports to the (fake) agent while measuring:');
  for (const a of activity)
    console.log(
      `  ${a.proxy}: ${a.operationsForwarded} requests/messages, ${a.activityPosts} POSTs in ${a.windowSeconds.toFixed(0)} s`,
    );
  console.log(`\nload average (1 min): ${load.start} at start, ${load.end} at end`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
