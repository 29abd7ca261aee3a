import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CodeyardError } from '../model/errors.js';
import { LineSplitter, parseBuildLine, type ImageBuildResult } from './build-output.js';
import { workspaceImages, type WorkspaceImageName } from './image-catalog.js';

/** The first code-server build on a machine installs it from npm (minutes); later ones are cached. */
export const imageBuildTimeoutMsDefault = 20 * 60_000;
/** How many of the script's last lines a failure message quotes. */
const failureTailLineCount = 20;

const buildScriptPath = fileURLToPath(new URL('../../images/build.sh', import.meta.url));

export interface EnsureImageOptions {
  /** Called with each progress line of the build, as it happens (none when the image is cached). */
  readonly onProgress?: (line: string) => void;
  readonly timeoutMs?: number;
  /** Extra environment for the build script, e.g. `CODEYARD_CACHE_DIR` or `DOCKER_HOST`. */
  readonly env?: Readonly<Record<string, string>>;
}

interface InFlightBuild {
  readonly result: Promise<ImageBuildResult>;
  readonly listeners: Set<(line: string) => void>;
}

/** One build per image and environment at a time in this process; callers that arrive meanwhile share it. */
const inFlight = new Map<string, InFlightBuild>();

/**
 * Makes sure a workspace image exists on this machine's Docker engine, building it when missing.
 * Resolves with outcome 'cached' when nothing had to be built (well under a second), 'built'
 * otherwise. Fails with IMAGE_BUILD_FAILED, quoting the build's last lines.
 */
export async function ensureImage(
  name: WorkspaceImageName,
  options: EnsureImageOptions = {},
): Promise<ImageBuildResult> {
  const key = `${name} ${JSON.stringify(options.env ?? {})}`;
  let build = inFlight.get(key);
  if (build === undefined) {
    const listeners = new Set<(line: string) => void>();
    const result = runBuildScript(name, options, (line) => {
      for (const listener of listeners) notify(listener, line);
    }).finally(() => inFlight.delete(key));
    build = { result, listeners };
    inFlight.set(key, build);
  }
  const { onProgress } = options;
  if (onProgress !== undefined) build.listeners.add(onProgress);
  try {
    return await build.result;
  } finally {
    if (onProgress !== undefined) build.listeners.delete(onProgress);
  }
}

function notify(listener: (line: string) => void, line: string): void {
  try {
    listener(line);
  } catch {
    // A failing progress printer must not fail the build it reports on.
  }
}

function runBuildScript(
  name: WorkspaceImageName,
  options: EnsureImageOptions,
  onLine: (line: string) => void,
): Promise<ImageBuildResult> {
  const image = workspaceImages[name];
  const timeoutMs = options.timeoutMs ?? imageBuildTimeoutMsDefault;
  return new Promise<ImageBuildResult>((resolve, reject) => {
    // Its own process group, so a timeout can end the script together with docker and npm under it.
    const child = spawn('bash', [buildScriptPath, image.buildTarget], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const tail: string[] = [];
    let result: ImageBuildResult | undefined;
    let timedOut = false;

    const take = (line: string): void => {
      const parsed = parseBuildLine(line);
      if (parsed.kind === 'result') {
        if (parsed.result.reference === image.reference) result = parsed.result;
        return;
      }
      tail.push(line);
      if (tail.length > failureTailLineCount) tail.shift();
      onLine(line);
    };
    for (const stream of [child.stdout, child.stderr]) {
      const splitter = new LineSplitter();
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => splitter.push(chunk).forEach(take));
      stream.on('end', () => splitter.flush().forEach(take));
    }

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);

    const fail = (message: string, cause?: unknown): void => {
      const quoted = tail.length > 0 ? `\n${tail.join('\n')}` : '';
      reject(new CodeyardError('IMAGE_BUILD_FAILED', `${message}${quoted}`, { cause }));
    };
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(`could not run ${buildScriptPath}: ${error.message}`, error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return fail(`building ${image.reference} took longer than ${timeoutMs} ms`);
      if (code === 0 && result !== undefined) return resolve(result);
      fail(`building ${image.reference} failed (${signal ?? `exit code ${code}`})`);
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}
