import Docker from 'dockerode';
import { mkdir, writeFile } from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityTracker } from '../../src/node-proxy/activity-tracker.js';
import { activityMinFrameBytesDefault } from '../../src/node-proxy/config.js';
import { InMemoryRouteTable } from '../../src/node-proxy/route-table.js';
import { refusedPort, startProxy, type ProxyHarness } from '../support/node-proxy-harness.js';

/**
 * A real code-server container opened in Debian's Chromium through the node proxy (path
 * mode on loopback): the workbench renders, its WebSockets connect and carry frames, and an
 * untouched tab records no activity while typing in a terminal does.
 */
const image = 'codeyard/workspace:latest';
const artifactsDir = 'test-artifacts';
const workbenchTimeoutMs = 120_000;
/**
 * Screenshots wait for web fonts and a terminal for its renderer: seconds on a quiet machine, but
 * Playwright's 30 s default ran out once at load average ~13 on the shared 2-core CI machines.
 */
const browserActionTimeoutMs = 120_000;
const containerReadyTimeoutMs = 60_000;
/** After the workbench settles, this long untouched must record no activity (override to measure longer). */
const quietWindowMs = Number(process.env.CODEYARD_E2E_QUIET_MS ?? 20_000);
/** The workbench's start-up RPC (extension host, themes, welcome page) runs for seconds after it renders. */
const settleMs = 5_000;
const settleTimeoutMs = 90_000;
const activityMinFrameBytes = activityMinFrameBytesDefault;
/** VS Code's remote protocol sends a KeepAlive on each socket this often. */
const keepAliveIntervalMs = 5_000;
const typedText = 'echo typed-through-the-proxy';
const keystrokeDelayMs = 80;

/** Counts every recorded activity, so the test sees each one and not only the latest time. */
class CountingTracker extends ActivityTracker {
  touches = 0;
  override touch(codespace: string, nowMs: number): void {
    this.touches++;
    super.touch(codespace, nowMs);
  }
}
const activity = new CountingTracker();

interface FrameRecord {
  atMs: number;
  opcode: number;
  payloadBytes: number;
  compressed: boolean;
}

const docker = new Docker();
let container: Docker.Container | undefined;
let proxy: ProxyHarness;
let browser: Browser | undefined;
const frames: FrameRecord[] = [];

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Waits until no activity-sized client frame has passed for `quietMs`: the workbench has finished starting. */
async function waitForSettledTraffic(quietMs: number): Promise<void> {
  const deadline = Date.now() + settleTimeoutMs;
  for (;;) {
    const lastBig = frames.findLast((frame) => frame.payloadBytes >= activityMinFrameBytes);
    if (!lastBig || Date.now() - lastBig.atMs >= quietMs) return;
    if (Date.now() > deadline) throw new Error('the workbench kept sending for too long');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  // Fails loudly (no skip) when Docker or the image is missing.
  await docker.getImage(image).inspect();
  const hostPort = await refusedPort();
  container = await docker.createContainer({
    Image: image,
    name: `codeyard-proxy-e2e-${process.pid}`,
    User: '1000:1000',
    Labels: { 'codeyard.test': 'proxy-browser' },
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: {
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: 512,
      Memory: 2048 * 1024 * 1024,
    },
  });
  await container.start();
  await waitForHttp(`http://127.0.0.1:${hostPort}/healthz`, containerReadyTimeoutMs);

  const routes = new InMemoryRouteTable();
  routes.set('alpha', { uid: 'uid-e2e', owner: 'alice', hostPort, state: 'running', ready: true });
  proxy = await startProxy({
    routes,
    config: { activityMinFrameBytes },
    activity,
    onClientFrame: (_codespace, frame) => frames.push({ atMs: Date.now(), ...frame }),
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await container?.remove({ force: true, v: true });
});

describe('node proxy in a real browser', () => {
  it(
    'renders the code-server workbench with connected WebSockets, and counts typing but not keep-alives',
    async () => {
      const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
      const sockets: { url: string; framesReceived: number; closed: boolean; error?: string }[] = [];
      const requests: { atMs: number; url: string }[] = [];
      /** What the browser sent, uncompressed: size, VS Code message type (first byte) and a readable excerpt. */
      const sent: { atMs: number; bytes: number; messageType: number; text: string }[] = [];
      page.on('websocket', (socket) => {
        const entry: (typeof sockets)[number] = { url: socket.url(), framesReceived: 0, closed: false };
        sockets.push(entry);
        socket.on('framereceived', () => entry.framesReceived++);
        socket.on('framesent', (frame) => {
          const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload) : frame.payload;
          sent.push({
            atMs: Date.now(),
            bytes: payload.length,
            messageType: payload[0] ?? -1,
            text: payload
              .subarray(13, 120)
              .toString('latin1')
              .replace(/[^\x20-\x7e]/g, '.'),
          });
        });
        socket.on('socketerror', (error) => (entry.error = error));
        socket.on('close', () => (entry.closed = true));
      });
      page.on('request', (request) => requests.push({ atMs: Date.now(), url: request.url() }));

      const token = await proxy.token({ user: 'alice', codespace: 'alpha' });
      const response = await page.goto(`${proxy.baseUrl}/cs/alpha/?codeyard_token=${token}`);
      expect(response?.status()).toBe(200);
      // code-server adds ?folder=…; the token must be gone from the address bar.
      expect(page.url().startsWith(`${proxy.baseUrl}/cs/alpha/`)).toBe(true);
      expect(page.url()).not.toContain('codeyard_token');
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: workbenchTimeoutMs });
      await waitForSettledTraffic(settleMs);
      // The codespace is the user's own container: the image turns VS Code's workspace-trust
      // prompt off on first start (images/workspace/entrypoint.sh), so nothing stands in the way.
      expect(await page.getByRole('button', { name: 'Yes, I trust the authors' }).count()).toBe(0);
      await mkdir(artifactsDir, { recursive: true });
      await page.screenshot({ path: `${artifactsDir}/proxy-workbench.png`, timeout: browserActionTimeoutMs });

      expect(sockets.length).toBeGreaterThan(0);
      expect(sockets.every((socket) => socket.url.startsWith(`ws://127.0.0.1:${proxy.port}/cs/alpha/`))).toBe(
        true,
      );
      expect(sockets.some((socket) => socket.framesReceived > 0)).toBe(true);
      expect(sockets.filter((socket) => socket.error !== undefined)).toEqual([]);

      // An open, untouched tab: KeepAlives and Acks (13 B) and latency pings (38 B) flow every few
      // seconds but stay under the threshold. At most two one-off messages may count: a late
      // start-up report and VS Code's "window inactive" notice about a minute after the last
      // input (docs/node-proxy.md, measurements). Nothing periodic counts.
      const quietStart = frames.length;
      const touchesBefore = activity.touches;
      await page.waitForTimeout(quietWindowMs);
      const quietFrames = frames.slice(quietStart);
      const quietTouches = activity.touches - touchesBefore;
      await mkdir(artifactsDir, { recursive: true });
      await writeFile(
        `${artifactsDir}/proxy-ws-frames-quiet.json`,
        JSON.stringify({ quietWindowMs, quietTouches, quietFrames, requests, sent, sockets }, null, 1),
      );
      const keepAliveSized = quietFrames.filter((frame) => frame.payloadBytes < activityMinFrameBytes);
      expect(keepAliveSized.length).toBeGreaterThanOrEqual(Math.floor(quietWindowMs / keepAliveIntervalMs));
      expect(quietTouches).toBeLessThanOrEqual(2);
      expect(requests.filter((request) => request.atMs >= quietFrames[0]!.atMs)).toEqual([]);

      // A person types in a terminal: activity is recorded.
      await page.keyboard.press('Control+Backquote');
      await page.locator('.xterm').first().waitFor({ state: 'visible', timeout: browserActionTimeoutMs });
      await page.waitForTimeout(2_000);
      const touchesBeforeTyping = activity.touches;
      const typingStart = frames.length;
      const typedAtMs = Date.now();
      await page.keyboard.type(typedText, { delay: keystrokeDelayMs });
      await page.keyboard.press('Enter');
      await page.waitForTimeout(1_000);
      const typingTouches = activity.touches - touchesBeforeTyping;
      const typingFrames = frames.slice(typingStart);
      await page.screenshot({
        path: `${artifactsDir}/proxy-workbench-terminal.png`,
        timeout: browserActionTimeoutMs,
      });
      await writeFile(
        `${artifactsDir}/proxy-ws-frames.json`,
        JSON.stringify(
          {
            quietWindowMs,
            quietTouches,
            quietFrames,
            typingTouches,
            typingFrames,
            requests,
            sent: sent.filter((s) => s.atMs >= typedAtMs),
            sockets,
          },
          null,
          1,
        ),
      );
      expect(typingTouches).toBeGreaterThan(5);
      expect(activity.drain().has('alpha')).toBe(true);
      expect(sockets.filter((socket) => socket.error !== undefined || socket.closed)).toEqual([]);
      await page.close();
    },
    workbenchTimeoutMs + settleTimeoutMs + quietWindowMs + 3 * browserActionTimeoutMs,
  );
});
