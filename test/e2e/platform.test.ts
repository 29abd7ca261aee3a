import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type WebSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codespace } from '../../src/model/codespace.js';
import {
  assertNoContainersLeft,
  freeLoopbackPort,
  removeVolumes,
  startPlatformProcess,
  type CliResult,
  type PlatformProcess,
} from '../support/platform-process.js';

/**
 * The product as a person meets it: `codeyard up` started as a process, then the web UI in
 * Debian's Chromium and the real `codeyard` binary against it. One platform serves both parts
 * (start-up costs seconds); its nodes get a random name prefix, since Docker labels carry node
 * names engine-wide and another platform's `local-1` would take our containers for its orphans.
 */
const artifactsDir = 'test-artifacts';
const uiCodespace = 'ui-demo';
const cliCodespace = 'cli-demo';
/** Scheduling, the container start and code-server's first answer. */
const runningTimeoutMs = 90_000;
const stoppedTimeoutMs = 60_000;
const workbenchTimeoutMs = 120_000;
/** The UI refreshes the admin nodes table this often; heartbeats carry slot use. */
const nodesRefreshTimeoutMs = 30_000;
const cliPollIntervalMs = 500;

let platform: PlatformProcess;
/** The platform's one node, `<random prefix>1`. */
let nodeName: string;
const uids = new Set<string>();

async function apiGet(path: string, token = platform.token): Promise<Response> {
  return fetch(`${platform.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

async function rememberUid(name: string): Promise<void> {
  const response = await apiGet(`/v1/codespaces/${name}`);
  expect(response.status).toBe(200);
  uids.add(((await response.json()) as Codespace).metadata.uid);
}

/** Deletes a codespace through the API if a failed test left it, and waits until it is gone. */
async function deleteIfPresent(name: string): Promise<void> {
  const response = await fetch(`${platform.url}/v1/codespaces/${name}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${platform.token}` },
  });
  await response.body?.cancel();
  const deadline = Date.now() + stoppedTimeoutMs;
  while ((await apiGet(`/v1/codespaces/${name}`)).status !== 404) {
    if (Date.now() > deadline) throw new Error(`codespace ${name} was not deleted in time`);
    await new Promise((r) => setTimeout(r, cliPollIntervalMs));
  }
}

/** Creates a stopped codespace through the API: no container, so the test is quick. */
async function createStoppedViaApi(name: string): Promise<void> {
  const response = await fetch(`${platform.url}/v1/codespaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${platform.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name }, spec: { running: false } }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  uids.add(((await response.json()) as Codespace).metadata.uid);
}

function describeRun(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** Polls `codeyard get NAME --json` until `done` holds for the result. */
async function waitForCli(
  name: string,
  done: (result: CliResult, codespace: Codespace | undefined) => boolean,
  timeoutMs: number,
): Promise<CliResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await platform.cli(['get', name, '--json']);
    const codespace = result.code === 0 ? (JSON.parse(result.stdout) as Codespace) : undefined;
    if (done(result, codespace)) return result;
    if (Date.now() > deadline)
      throw new Error(`codespace ${name} did not get there in time: ${describeRun(result)}`);
    await new Promise((r) => setTimeout(r, cliPollIntervalMs));
  }
}

beforeAll(async () => {
  await mkdir(artifactsDir, { recursive: true });
  platform = await startPlatformProcess();
  nodeName = platform.nodeNames[0]!;
}, 120_000);

afterAll(async () => {
  try {
    await platform?.stop();
    await assertNoContainersLeft({ nodeNames: platform?.nodeNames ?? [], uids: [...uids] });
  } finally {
    await removeVolumes([...uids]);
  }
}, 120_000);

describe('codeyard up', () => {
  it('prints a web UI URL with the token and writes the CLI config', async () => {
    expect(platform.uiUrl).toBe(`${platform.url}/ui/#token=${platform.token}`);
    const result = await platform.cli(['nodes', '--json']);
    expect(result.code, describeRun(result)).toBe(0);
    const nodes = JSON.parse(result.stdout) as { items: { name: string }[] };
    expect(nodes.items.map((n) => n.name)).toEqual([nodeName]);
  });
});

describe('web UI', () => {
  let context: BrowserContext;
  let userDataDir: string;

  beforeAll(async () => {
    userDataDir = await mkdtemp(join(tmpdir(), 'codeyard-ui-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
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
      viewport: { width: 1280, height: 860 },
    });
  }, 60_000);

  afterAll(async () => {
    await deleteIfPresent(uiCodespace);
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  /**
   * Collects each distinct text the codespace's phase badge shows, as the DOM changes. Runs in
   * the page (a string: this project's TypeScript has no DOM types).
   */
  async function recordPhases(page: Page, name: string): Promise<void> {
    await page.evaluate(`(() => {
      const seen = [];
      window.observedPhases = seen;
      const note = () => {
        const text = document.querySelector('[data-testid="phase-${name}"]')?.textContent ?? '';
        if (text && seen[seen.length - 1] !== text) seen.push(text);
      };
      note();
      new MutationObserver(note).observe(document.body, { childList: true, subtree: true, characterData: true });
    })()`);
  }

  async function observedPhases(page: Page): Promise<string[]> {
    return (await page.evaluate('window.observedPhases')) as string[];
  }

  async function waitForPhase(page: Page, name: string, phase: string, timeoutMs: number): Promise<void> {
    await page
      .getByTestId(`phase-${name}`)
      .filter({ hasText: new RegExp(`^${phase}$`) })
      .waitFor({ timeout: timeoutMs });
  }

  it('creates a codespace from the form, follows it live to Running, opens VS Code, stops and deletes it', async () => {
    const page = await context.newPage();
    const listRequests: string[] = [];
    const createRequests: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/codespaces' && request.method() === 'GET') listRequests.push(request.url());
      if (url.pathname === '/v1/codespaces' && request.method() === 'POST')
        createRequests.push(request.url());
    });
    const watchSockets: WebSocket[] = [];
    page.on('websocket', (socket) => watchSockets.push(socket));

    await page.goto(platform.uiUrl);
    await page.getByRole('status').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 });
    // The token left the address bar for session storage.
    expect(page.url()).not.toContain('token=');
    await page.getByText('No codespaces yet').waitFor();
    await page.screenshot({ path: `${artifactsDir}/ui-empty.png`, fullPage: true });

    // A name the API would refuse is caught in the form, and nothing is sent.
    await page.getByLabel('Name', { exact: true }).fill('Bad_Name');
    await page.getByRole('button', { name: 'Create codespace' }).click();
    const nameError = page.locator('#create-name-error');
    await expect.poll(() => nameError.textContent()).toContain('lower-case letters');
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: `${artifactsDir}/ui-invalid-name.png`, fullPage: true });
    expect(createRequests).toEqual([]);

    await recordPhases(page, uiCodespace);
    await page.getByLabel('Name', { exact: true }).fill(uiCodespace);
    await page.getByLabel('CPUs').fill('1');
    await page.getByLabel('Memory (MiB)').fill('1024');
    await page.getByLabel('Idle timeout (minutes)').fill('30');
    await page.getByRole('button', { name: 'Create codespace' }).click();
    await page.getByTestId(`phase-${uiCodespace}`).waitFor({ timeout: 10_000 });
    expect(await nameError.textContent()).toBe('');
    expect(createRequests).toHaveLength(1);
    await rememberUid(uiCodespace);
    await page.screenshot({ path: `${artifactsDir}/ui-created.png`, fullPage: true });

    await waitForPhase(page, uiCodespace, 'Running', runningTimeoutMs);
    const toRunning = await observedPhases(page);
    expect(toRunning[toRunning.length - 1]).toBe('Running');
    expect(toRunning.slice(0, -1).length, `phases seen: ${toRunning.join(' → ')}`).toBeGreaterThan(0);
    expect(toRunning.slice(0, -1)).not.toContain('Running');
    // The admin's nodes table shows the node with the codespace's slot in use.
    const cell = (column: number, text: RegExp) => page.locator(`td:nth-child(${column})`, { hasText: text });
    await page
      .locator('#nodes tbody tr')
      .filter({ has: cell(1, new RegExp(`^${nodeName}$`)) })
      .filter({ has: cell(2, /^Ready$/) })
      .filter({ has: cell(3, /^1 \/ \d+$/) })
      .waitFor({ timeout: nodesRefreshTimeoutMs });
    await page.screenshot({ path: `${artifactsDir}/ui-running.png`, fullPage: true });

    const [popup] = await Promise.all([
      page.waitForEvent('popup'),
      page.getByRole('button', { name: `Open ${uiCodespace}` }).click(),
    ]);
    const framesReceived = new Map<WebSocket, number>();
    popup.on('websocket', (socket) => {
      framesReceived.set(socket, 0);
      socket.on('framereceived', () => framesReceived.set(socket, (framesReceived.get(socket) ?? 0) + 1));
    });
    await popup.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: workbenchTimeoutMs });
    expect(new URL(popup.url()).pathname).toBe(`/cs/${uiCodespace}/`);
    await expect
      .poll(() => [...framesReceived.values()].some((count) => count > 0), { timeout: 60_000, interval: 250 })
      .toBe(true);
    // Let the workbench finish drawing before the picture.
    await popup.waitForTimeout(3_000);
    await popup.screenshot({ path: `${artifactsDir}/ui-workbench.png` });
    await popup.close();

    await recordPhases(page, uiCodespace);
    await page.getByRole('button', { name: `Stop ${uiCodespace}` }).click();
    await waitForPhase(page, uiCodespace, 'Stopped', stoppedTimeoutMs);
    const toStopped = await observedPhases(page);
    await writeFile(`${artifactsDir}/ui-phases.json`, JSON.stringify({ toRunning, toStopped }, null, 2));
    expect(toStopped[toStopped.length - 1]).toBe('Stopped');
    await page.getByRole('button', { name: `Start ${uiCodespace}` }).waitFor();
    await page.screenshot({ path: `${artifactsDir}/ui-stopped.png`, fullPage: true });

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Delete ${uiCodespace}` }).click();
    await page.getByTestId(`phase-${uiCodespace}`).waitFor({ state: 'detached', timeout: stoppedTimeoutMs });
    await page.getByText('No codespaces yet').waitFor();
    expect((await apiGet(`/v1/codespaces/${uiCodespace}`)).status).toBe(404);

    // Everything after the first load arrived over one watch socket: no polling of the list.
    expect(listRequests).toHaveLength(1);
    expect(watchSockets.filter((s) => s.url().includes('/v1/watch/codespaces'))).toHaveLength(1);
    await page.close();
  }, 300_000);

  it('reconnects its watch after the socket drops and misses no change made meanwhile', async () => {
    const page = await context.newPage();
    // Keeps each WebSocket the page opens, so the test can drop the watch as a network blip would.
    await page.addInitScript(`(() => {
      const Native = window.WebSocket;
      window.openedSockets = [];
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          window.openedSockets.push(this);
        }
      };
    })()`);
    let listRequests = 0;
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/codespaces' && request.method() === 'GET') listRequests++;
    });
    const watchUrls: string[] = [];
    page.on('websocket', (socket) => watchUrls.push(socket.url()));
    const live = page.getByRole('status').filter({ hasText: /^live$/ });

    await page.goto(platform.uiUrl);
    await live.waitFor({ timeout: 15_000 });
    await createStoppedViaApi('watch-a');
    await page.getByTestId('phase-watch-a').waitFor({ timeout: 10_000 });

    const reconnected = page.waitForEvent('websocket', { timeout: 15_000 });
    await page.evaluate('window.openedSockets[window.openedSockets.length - 1].close()');
    // Changes made while the page has no socket must arrive once it has one again.
    await createStoppedViaApi('watch-b');
    await deleteIfPresent('watch-a');
    const second = await reconnected;
    expect(Number(new URL(second.url()).searchParams.get('resourceVersion'))).toBeGreaterThan(0);
    await live.waitFor({ timeout: 15_000 });
    await page.getByTestId('phase-watch-b').waitFor({ timeout: 10_000 });
    await page.getByTestId('phase-watch-a').waitFor({ state: 'detached', timeout: 10_000 });
    await page.screenshot({ path: `${artifactsDir}/ui-reconnected.png`, fullPage: true });

    expect(watchUrls).toHaveLength(2);
    expect(listRequests).toBe(1);
    await deleteIfPresent('watch-b');
    await page.getByText('No codespaces yet').waitFor({ timeout: 10_000 });
    await page.close();
  });
});

describe('codeyard CLI', () => {
  it('rejects an unknown command with exit 2 and usage', async () => {
    const result = await platform.cli(['frobnicate']);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
    expect(result.stderr).toContain('Usage: codeyard COMMAND');
  });

  it('says which API it could not reach and exits 6', async () => {
    const closedPort = await freeLoopbackPort();
    const result = await platform.cli(['ls', '--api-url', `http://127.0.0.1:${closedPort}`]);
    expect(result.code, describeRun(result)).toBe(6);
    expect(result.stderr).toContain(`cannot reach the codeyard API at http://127.0.0.1:${closedPort}`);
  });

  it('refuses an invalid codespace name with the API’s validation message', async () => {
    const result = await platform.cli(['create', 'Bad_Name']);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toMatch(/metadata\.name/);
    expect((await apiGet('/v1/codespaces/Bad_Name')).status).not.toBe(200);
  });

  it('creates, lists, opens, stops and removes a codespace through the real binary', async () => {
    const created = await platform.cli(['create', cliCodespace]);
    expect(created.code, describeRun(created)).toBe(0);
    expect(created.stdout.trim()).toBe(`codespace/${cliCodespace} created`);
    await rememberUid(cliCodespace);

    await waitForCli(cliCodespace, (_, cs) => cs?.status.phase === 'Running', runningTimeoutMs);

    const table = await platform.cli(['ls']);
    expect(table.code, describeRun(table)).toBe(0);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'OWNER', 'PHASE', 'RUNNING', 'NODE', 'REASON', 'AGE']);
    expect(rows.map((row) => row.split(/\s+/).slice(0, 5))).toContainEqual([
      cliCodespace,
      expect.any(String),
      'Running',
      'true',
      nodeName,
    ]);

    const listed = await platform.cli(['ls', '--json']);
    expect(listed.code, describeRun(listed)).toBe(0);
    const list = JSON.parse(listed.stdout) as { items: Codespace[] };
    expect(list.items.map((c) => c.metadata.name)).toContain(cliCodespace);

    const opened = await platform.cli(['open', cliCodespace]);
    expect(opened.code, describeRun(opened)).toBe(0);
    const url = opened.stdout.trim();
    expect(url).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:\\d+/cs/${cliCodespace}/\\?codeyard_token=[\\w.-]+$`),
    );
    const redirect = await fetch(url, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location')!, url);
    expect(location.pathname).toBe(`/cs/${cliCodespace}/`);
    expect(location.search).toBe('');
    const cookie = redirect.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    expect(cookie).not.toBe('');
    const workbench = await fetch(location, { headers: { cookie } });
    expect(workbench.status).toBe(200);
    expect(workbench.headers.get('content-type')).toContain('text/html');
    expect(await workbench.text()).toContain('workbench');
    // Without the cookie the same page is refused.
    const anonymous = await fetch(location, { redirect: 'manual' });
    expect(anonymous.status).not.toBe(200);
    await anonymous.body?.cancel();

    const stopped = await platform.cli(['stop', cliCodespace]);
    expect(stopped.code, describeRun(stopped)).toBe(0);
    expect(stopped.stdout.trim()).toBe(`codespace/${cliCodespace} stopping`);
    await waitForCli(cliCodespace, (_, cs) => cs?.status.phase === 'Stopped', stoppedTimeoutMs);

    const removed = await platform.cli(['rm', cliCodespace]);
    expect(removed.code, describeRun(removed)).toBe(0);
    const gone = await waitForCli(cliCodespace, (result) => result.code === 3, stoppedTimeoutMs);
    expect(gone.stderr).toContain(cliCodespace);
  }, 240_000);

  it('issues a user token with `codeyard token` that sees none of the admin’s codespaces', async () => {
    const root = await platform.cli(['create', 'root-only', '--stopped']);
    expect(root.code, describeRun(root)).toBe(0);
    await rememberUid('root-only');

    const issued = await platform.cli(['token', '--user', 'bob', '--data-dir', platform.dataDir]);
    expect(issued.code, describeRun(issued)).toBe(0);
    const bob = { CODEYARD_TOKEN: issued.stdout.trim() };

    const listed = await platform.cli(['ls'], { env: bob });
    expect(listed.code, describeRun(listed)).toBe(0);
    expect(listed.stdout.trim()).toBe('No codespaces.');
    const peek = await platform.cli(['get', 'root-only'], { env: bob });
    expect(peek.code, describeRun(peek)).toBe(3);

    const removed = await platform.cli(['rm', 'root-only']);
    expect(removed.code, describeRun(removed)).toBe(0);
    await waitForCli('root-only', (result) => result.code === 3, stoppedTimeoutMs);
  }, 180_000);
});
