import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CodeyardError } from '../../src/model/errors.js';
import { ensureImage } from '../../src/images/ensure-image.js';
import { imageHashLabel, workspaceContainerPort, workspaceImages } from '../../src/images/image-catalog.js';

const run = promisify(execFile);
const docker = new Docker();

/** A fresh machine debootstraps the base first (~40 s); later runs find the image cached. */
const testImageBuildTimeoutMs = 5 * 60_000;
/** The first code-server build installs it from npm (minutes); later runs reuse the cache. */
const codeServerImageBuildTimeoutMs = 15 * 60_000;
const testContainerReadyTimeoutMs = 10_000;
const codeServerReadyTimeoutMs = 30_000;
const pollIntervalMs = 50;
/** One readiness probe: docker-proxy may accept a connection before the container can take it. */
const probeTimeoutMs = 1_000;
const webSocketTimeoutMs = 5_000;

const createdContainerIds: string[] = [];
const createdVolumeNames: string[] = [];
const uniqueSuffix = `${process.pid}-${Date.now().toString(36)}`;

interface RunOptions {
  readonly image: string;
  readonly env?: Record<string, string>;
  readonly volume?: string;
  readonly binds?: string[];
}

/**
 * Runs a container the way the node agent will: every capability dropped, no-new-privileges,
 * uid 1000, published on a loopback port the engine picks.
 */
async function runRestricted(options: RunOptions): Promise<{ id: string; baseUrl: string }> {
  const binds = [...(options.binds ?? [])];
  if (options.volume !== undefined) binds.push(`${options.volume}:/home/coder`);
  const container = await docker.createContainer({
    Image: options.image,
    User: '1000:1000',
    Env: Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`),
    Labels: { 'dev.codeyard.test': 'images' },
    ExposedPorts: { [`${workspaceContainerPort}/tcp`]: {} },
    HostConfig: {
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PortBindings: { [`${workspaceContainerPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      Binds: binds,
    },
  });
  createdContainerIds.push(container.id);
  await container.start();
  const info = await container.inspect();
  const hostPort = info.NetworkSettings.Ports[`${workspaceContainerPort}/tcp`]?.[0]?.HostPort;
  if (hostPort === undefined) throw new Error(`container ${container.id} published no port`);
  return { id: container.id, baseUrl: `http://127.0.0.1:${hostPort}` };
}

async function waitForHttp(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(probeTimeoutMs) });
      if (response.ok) return response;
      lastError = new Error(`HTTP ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${String(lastError)}`);
}

async function removeContainer(id: string): Promise<void> {
  await docker.getContainer(id).remove({ force: true, v: false });
  createdContainerIds.splice(createdContainerIds.indexOf(id), 1);
}

function newVolumeName(purpose: string): string {
  const name = `codeyard-images-test-${purpose}-${uniqueSuffix}`;
  createdVolumeNames.push(name);
  return name;
}

function echoOnce(url: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no echo from ${url} within ${webSocketTimeoutMs} ms`));
    }, webSocketTimeoutMs);
    socket.on('open', () => socket.send(message));
    socket.on('message', (data) => {
      clearTimeout(timer);
      socket.close();
      resolve(data.toString());
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

beforeAll(async () => {
  // Docker is a hard requirement of this suite: without it the suite fails here, never skips.
  try {
    await docker.ping();
  } catch (error) {
    throw new Error(`the images suite needs a reachable Docker engine: ${String(error)}`);
  }
});

afterAll(async () => {
  for (const id of [...createdContainerIds]) await removeContainer(id).catch(() => undefined);
  for (const name of createdVolumeNames)
    await docker
      .getVolume(name)
      .remove()
      .catch(() => undefined);
});

describe('test workspace image', () => {
  beforeAll(async () => {
    await ensureImage('test');
  }, testImageBuildTimeoutMs);

  it('is labelled with the content hash that ensureImage reports', async () => {
    const result = await ensureImage('test');
    expect(result.reference).toBe(workspaceImages.test.reference);
    const image = await docker.getImage(workspaceImages.test.reference).inspect();
    expect(image.Config.Labels?.[imageHashLabel]).toBe(result.contentHash);
  });

  it('reports cached and prints no build progress when the image is current', async () => {
    const progress: string[] = [];
    const result = await ensureImage('test', { onProgress: (line) => progress.push(line) });
    expect(result.outcome).toBe('cached');
    expect(progress).toEqual([]);
  });

  it('shares one build between concurrent callers', async () => {
    const [first, second] = await Promise.all([ensureImage('test'), ensureImage('test')]);
    expect(first).toBe(second);
  });

  it('serves its page and health check with all capabilities dropped, as uid 1000', async () => {
    const { id, baseUrl } = await runRestricted({
      image: workspaceImages.test.reference,
      env: { CODEYARD_CODESPACE_NAME: 'alice-demo' },
    });
    await waitForHttp(`${baseUrl}/healthz`, testContainerReadyTimeoutMs);
    const page = await fetch(`${baseUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1 id="codespace">alice-demo</h1>');

    const { stdout } = await run('docker', [
      'exec',
      id,
      'sh',
      '-c',
      'id -u; grep -E "^(CapEff|NoNewPrivs)" /proc/1/status',
    ]);
    expect(stdout).toMatch(/^1000\n/);
    expect(stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(stdout).toMatch(/NoNewPrivs:\s+1/);
    await removeContainer(id);
  });

  it('echoes WebSocket messages on /echo', async () => {
    const { id, baseUrl } = await runRestricted({ image: workspaceImages.test.reference });
    await waitForHttp(`${baseUrl}/healthz`, testContainerReadyTimeoutMs);
    const message = `hello ${'x'.repeat(70_000)}`; // longer than 65535: the 64-bit length form
    expect(await echoOnce(`${baseUrl.replace('http', 'ws')}/echo`, message)).toBe(message);
    expect(await echoOnce(`${baseUrl.replace('http', 'ws')}/echo`, 'short')).toBe('short');
    await removeContainer(id);
  });

  it('keeps files written under /home/coder on the named volume across containers', async () => {
    const volume = newVolumeName('files');
    const first = await runRestricted({ image: workspaceImages.test.reference, volume });
    await waitForHttp(`${first.baseUrl}/healthz`, testContainerReadyTimeoutMs);
    const put = await fetch(`${first.baseUrl}/files/notes.txt`, {
      method: 'PUT',
      body: 'kept on the volume',
    });
    expect(put.status).toBe(204);
    await removeContainer(first.id);

    const second = await runRestricted({ image: workspaceImages.test.reference, volume });
    await waitForHttp(`${second.baseUrl}/healthz`, testContainerReadyTimeoutMs);
    const got = await fetch(`${second.baseUrl}/files/notes.txt`);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('kept on the volume');
    await removeContainer(second.id);
  });

  it('clones CODEYARD_GIT_REPOSITORY on first start only, leaving later changes alone', async () => {
    const repoDir = await mkdtemp(join(tmpdir(), 'codeyard-images-repo-'));
    try {
      const source = join(repoDir, 'source');
      await run('git', ['init', '--quiet', '--initial-branch=main', source]);
      await writeFile(join(source, 'README.md'), 'from the repository\n');
      const git = ['-C', source, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid'];
      await run('git', [...git, 'add', 'README.md']);
      await run('git', [...git, 'commit', '--quiet', '-m', 'first']);
      await run('git', ['-C', source, 'checkout', '--quiet', '-b', 'feature']);
      await writeFile(join(source, 'README.md'), 'from the feature branch\n');
      await run('git', [...git, 'commit', '--quiet', '-am', 'second']);
      await run('git', ['-C', source, 'checkout', '--quiet', 'main']);
      await run('git', ['clone', '--quiet', '--bare', source, join(repoDir, 'repo.git')]);
      // git refuses to serve a repository owned by another user ("dubious ownership").
      await run('chown', ['-R', '1000:1000', join(repoDir, 'repo.git')]);

      const volume = newVolumeName('clone');
      const options: RunOptions = {
        image: workspaceImages.test.reference,
        volume,
        binds: [`${join(repoDir, 'repo.git')}:/srv/repo.git:ro`],
        env: { CODEYARD_GIT_REPOSITORY: 'file:///srv/repo.git', CODEYARD_GIT_REF: 'feature' },
      };
      const first = await runRestricted(options);
      await waitForHttp(`${first.baseUrl}/healthz`, testContainerReadyTimeoutMs);
      expect(await (await fetch(`${first.baseUrl}/files/README.md`)).text()).toBe(
        'from the feature branch\n',
      );
      await fetch(`${first.baseUrl}/files/README.md`, { method: 'PUT', body: 'edited by the user\n' });
      await removeContainer(first.id);

      const second = await runRestricted(options);
      await waitForHttp(`${second.baseUrl}/healthz`, testContainerReadyTimeoutMs);
      expect(await (await fetch(`${second.baseUrl}/files/README.md`)).text()).toBe('edited by the user\n');
      await removeContainer(second.id);
    } finally {
      await rm(repoDir, { recursive: true, force: true });
    }
  });

  it('fails with IMAGE_BUILD_FAILED naming the cause when the Docker engine is unreachable', async () => {
    const failure = await ensureImage('test', {
      env: { DOCKER_HOST: 'unix:///nonexistent/codeyard-docker.sock' },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CodeyardError);
    expect((failure as CodeyardError).code).toBe('IMAGE_BUILD_FAILED');
    expect((failure as CodeyardError).message).toContain('Docker engine not reachable');
  });
});

describe('code-server workspace image', () => {
  it(
    'serves the VS Code workbench with all capabilities dropped, as uid 1000, on a fresh volume',
    async () => {
      const build = await ensureImage('workspace');
      expect(build.reference).toBe(workspaceImages.workspace.reference);

      const { id, baseUrl } = await runRestricted({
        image: workspaceImages.workspace.reference,
        volume: newVolumeName('code-server'),
      });
      // GET / redirects to /?folder=/home/coder/workspace; fetch follows it.
      const response = await waitForHttp(`${baseUrl}/`, codeServerReadyTimeoutMs);
      expect(new URL(response.url).searchParams.get('folder')).toBe('/home/coder/workspace');
      const html = await response.text();
      expect(html).toContain('vs/code/browser/workbench/workbench.js');
      expect(html).toContain('workbench-web-configuration');

      // code-server wrote its settings into the volume, which Docker initialised for uid 1000.
      const { stdout } = await run('docker', [
        'exec',
        id,
        'stat',
        '-c',
        '%u %n',
        '/home/coder/.local/share/code-server',
      ]);
      expect(stdout.trim()).toBe('1000 /home/coder/.local/share/code-server');
      await removeContainer(id);
    },
    codeServerImageBuildTimeoutMs,
  );
});
