import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateSigningKey,
  issueAccessToken,
  nodeAudience,
  SigningKeyRing,
} from '../../src/tokens/index.js';
import { nextMessage, startPinnedTsChild } from '../lib/child-process.js';
import { loadGeneratorCpu } from '../lib/cpu-pinning.js';
import { markdownTable } from '../lib/markdown-table.js';
import { sleep } from '../lib/monotonic-clock.js';
import { loadAverage1m } from '../lib/process-cpu.js';
import {
  benchCodespace,
  benchNodeName,
  benchUser,
  startNodeProxy,
  startUpstream,
  writeKv,
  type Sut,
} from './contenders.js';
import { startFakeControlPlane } from './control-plane.js';

export const soakIdleSockets = 5_000;
export const soakActiveSockets = 500;
export const rssSampleIntervalMs = 10_000;
export const soakOpenTimeoutMs = 180_000;
/**
 * How long the proxy is watched after the client is killed. The kill comes at 80 % of a short
 * run, but never earlier than this before the end, so a one-hour run keeps its sockets for
 * nearly the whole hour.
 */
export const soakAfterKillObservationMs = 60_000;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

/**
 * 5,000 idle and 500 active WebSockets through the native proxy: proxy RSS sampled every 10 s;
 * at 80 % of the run, or `soakAfterKillObservationMs` before its end if that is later, the
 * client process is killed (SIGKILL, by pid) so every socket vanishes at once; afterwards the
 * proxy must still answer /healthz and have logged no error.
 */
export async function runSoak(options: { quick: boolean; durationMs?: number }): Promise<void> {
  const durationMs =
    options.durationMs ?? (options.quick ? 40_000 : Number(process.env.BENCH_SOAK_MS ?? 600_000));
  const idle = options.quick ? 500 : soakIdleSockets;
  const active = options.quick ? 50 : soakActiveSockets;
  const loadStart = loadAverage1m();
  const dir = await mkdtemp(join(tmpdir(), 'codeyard-bench-soak-'));
  const ring = new SigningKeyRing([await generateSigningKey(Date.now())]);
  const control = await startFakeControlPlane(ring.jwks());
  const suts: Sut[] = [];
  let client: ReturnType<typeof startPinnedTsChild> | undefined;
  try {
    const upstream = await startUpstream();
    suts.push(upstream);
    await writeKv(join(dir, 'data'), upstream.port, 0);
    const proxyLog = join(dir, 'proxy.log');
    const proxy = await startNodeProxy({
      forwarder: 'native',
      dataDir: join(dir, 'data'),
      controlPlaneUrl: control.url,
      agentId: 'soak',
      logFile: proxyLog,
    });
    suts.push(proxy);
    const token = await issueAccessToken(ring, {
      user: benchUser,
      codespace: benchCodespace,
      audience: nodeAudience(benchNodeName),
    });
    const exchange = await fetch(
      `http://127.0.0.1:${proxy.port}/cs/${benchCodespace}/?codeyard_token=${token}`,
      {
        redirect: 'manual',
      },
    );
    const cookie = exchange.headers.get('set-cookie')!.split(';')[0]!;
    const rssAtStart = rssMiB(proxy.pid);
    const started = Date.now();
    client = startPinnedTsChild({
      entry: 'bench/proxy/soak-client.ts',
      cpu: loadGeneratorCpu,
      args: [`ws://127.0.0.1:${proxy.port}/cs/${benchCodespace}/`, cookie, String(idle), String(active)],
    });
    let echoes = 0;
    client.child.on('message', (m: { kind: string; echoes?: number }) => {
      if (m.kind === 'echoes') echoes = m.echoes ?? 0;
    });
    const opened = await nextMessage(
      client.child,
      (m): m is { kind: 'opened'; opened: number; failed: number } =>
        (m as { kind?: string }).kind === 'opened',
      soakOpenTimeoutMs,
    );
    console.log(`opened ${opened.opened} WebSockets (${opened.failed} failed) in ${Date.now() - started} ms`);
    const samples: { atSeconds: number; rssMiB: number; clientAlive: boolean }[] = [];
    const killAt = started + Math.max(durationMs * 0.8, durationMs - soakAfterKillObservationMs);
    let killed = false;
    let echoesBeforeKill = 0;
    for (let at = Date.now(); at - started < durationMs; at = Date.now()) {
      if (!killed && at >= killAt) {
        echoesBeforeKill = echoes;
        process.kill(client.pid, 'SIGKILL');
        killed = true;
      }
      samples.push({
        atSeconds: Math.round((at - started) / 1000),
        rssMiB: rssMiB(proxy.pid),
        clientAlive: !killed,
      });
      console.log(`t=${samples.at(-1)!.atSeconds}s proxy RSS ${samples.at(-1)!.rssMiB.toFixed(1)} MiB`);
      await sleep(Math.min(rssSampleIntervalMs, Math.max(0, started + durationMs - Date.now())));
    }
    const health = await fetch(`http://127.0.0.1:${proxy.port}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    const log = await readFile(proxyLog, 'utf8').catch(() => '');
    const errorLines = log.split('\n').filter((line) => /"level":(50|60)|uncaught|unhandled/i.test(line));
    const withClients = samples.filter((s) => s.clientAlive);
    const result = {
      quick: options.quick,
      durationMs,
      idle,
      active,
      opened,
      echoesBeforeKill,
      loadAverage1m: { start: loadStart, end: loadAverage1m() },
      rssAtStartMiB: rssAtStart,
      rssMaxWithClientsMiB: Math.max(...withClients.map((s) => s.rssMiB)),
      rssFirstWithClientsMiB: withClients[0]?.rssMiB,
      rssLastWithClientsMiB: withClients.at(-1)?.rssMiB,
      rssAfterClientKilledMiB: samples.at(-1)?.rssMiB,
      proxyAliveAfterKill: health === 200,
      proxyLogErrorLines: errorLines,
      samples,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile(
      `bench/results/proxy-soak${options.quick ? '.quick' : ''}.json`,
      JSON.stringify(result, null, 2),
    );
    console.log(
      '\n' +
        markdownTable(
          [
            'sockets (idle + active)',
            'opened',
            'duration s',
            'RSS start MiB',
            'RSS first / last / max with clients MiB',
            'RSS after client killed MiB',
            'proxy alive, log errors',
          ],
          [
            [
              `${idle} + ${active}`,
              opened.opened,
              durationMs / 1000,
              rssAtStart,
              `${result.rssFirstWithClientsMiB?.toFixed(1)} / ${result.rssLastWithClientsMiB?.toFixed(1)} / ${result.rssMaxWithClientsMiB.toFixed(1)}`,
              result.rssAfterClientKilledMiB ?? Number.NaN,
              `${result.proxyAliveAfterKill ? 'yes' : 'NO'}, ${errorLines.length}`,
            ],
          ],
          1,
        ),
    );
    console.log(
      `load average (1 min): ${result.loadAverage1m.start} at start, ${result.loadAverage1m.end} at end`,
    );
  } finally {
    if (client) await client.stop();
    for (const sut of suts.reverse()) await sut.stop();
    await control.close();
    await rm(dir, { recursive: true, force: true });
  }
}
