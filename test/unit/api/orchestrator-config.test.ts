import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dataDirPaths,
  loadOrchestratorConfig,
  orchestratorConfigDefaults,
} from '../../../src/orchestrator/config.js';
import { issueDevToken, parseTtl } from '../../../src/orchestrator/issue-dev-token.js';
import { resolveFleetJoinSecrets } from '../../../src/orchestrator/join-secrets.js';
import { loadOrCreateKeyRing } from '../../../src/tokens/key-file.js';
import { apiAudience } from '../../../src/tokens/token-kinds.js';
import { verifyToken } from '../../../src/tokens/verify-token.js';

const run = promisify(execFile);
let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'codeyard-api-test-'));
});
afterEach(async () => rm(dataDir, { recursive: true, force: true }));

describe('loadOrchestratorConfig', () => {
  it('works with no environment at all, with local defaults', () => {
    const config = loadOrchestratorConfig({});
    expect(config).toMatchObject({
      ...orchestratorConfigDefaults,
      dataDir: expect.stringMatching(/\.codeyard$/),
    });
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads typed values from the environment', () => {
    const config = loadOrchestratorConfig({
      CODEYARD_PORT: '9000',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CODEYARD_ROUTING_MODE: 'subdomain',
      CODEYARD_FLEET_JOIN_SECRETS: 'us-east=0123456789abcdef0123,eu=fedcba9876543210fedc',
      CODEYARD_WATCH_BOOKMARK_INTERVAL_MS: '50',
    });
    expect(config).toMatchObject({
      port: 9000,
      redisUrl: 'redis://127.0.0.1:6379',
      routingMode: 'subdomain',
      fleetJoinSecrets: { 'us-east': '0123456789abcdef0123', eu: 'fedcba9876543210fedc' },
      watchBookmarkIntervalMs: 50,
    });
  });

  it('stops with a message naming the variable for an invalid value', () => {
    expect(() => loadOrchestratorConfig({ CODEYARD_PORT: 'eighty' })).toThrowError(/CODEYARD_PORT/);
    expect(() => loadOrchestratorConfig({ CODEYARD_PORT: '70000' })).toThrowError(/CODEYARD_PORT/);
    expect(() => loadOrchestratorConfig({ CODEYARD_ROUTING_MODE: 'magic' })).toThrowError(
      /CODEYARD_ROUTING_MODE/,
    );
    expect(() => loadOrchestratorConfig({ REDIS_URL: 'http://x' })).toThrowError(/REDIS_URL/);
    expect(() => loadOrchestratorConfig({ CODEYARD_FLEET_JOIN_SECRETS: 'local=short' })).toThrowError(
      /CODEYARD_FLEET_JOIN_SECRETS/,
    );
    expect(() =>
      loadOrchestratorConfig({ CODEYARD_RATE_LIMIT_PER_SECOND: '50', CODEYARD_RATE_LIMIT_BURST: '10' }),
    ).toThrowError(/CODEYARD_RATE_LIMIT_BURST/);
  });

  it('refuses to start the process with an invalid value, naming it', async () => {
    const failure = await run('npx', ['tsx', 'src/orchestrator/main.ts'], {
      env: { ...process.env, CODEYARD_MAX_CODESPACES_PER_OWNER: 'lots', CODEYARD_DATA_DIR: dataDir },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('CODEYARD_MAX_CODESPACES_PER_OWNER');
  });
});

describe('the orchestrator process', () => {
  it('starts with defaults, serves, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/orchestrator/main.ts'], {
      env: { ...process.env, CODEYARD_PORT: '0', CODEYARD_DATA_DIR: dataDir, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listen line: ${output}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          const match = /Server listening at (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const jwks = (await (await fetch(`${url}/v1/jwks.json`)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
      await stat(dataDirPaths(dataDir).joinSecrets);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

describe('fleet join secrets', () => {
  it('generates the local fleet’s secret once, private to the owner, and reuses it', async () => {
    const path = dataDirPaths(dataDir).joinSecrets;
    const first = await resolveFleetJoinSecrets({ configured: {}, path });
    expect(Object.keys(first)).toEqual(['local']);
    expect(first.local!.length).toBeGreaterThanOrEqual(32);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await resolveFleetJoinSecrets({ configured: {}, path })).toEqual(first);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(first);
  });

  it('uses configured secrets instead of generating one', async () => {
    const configured = { prod: '0123456789abcdef0123' };
    expect(await resolveFleetJoinSecrets({ configured, path: dataDirPaths(dataDir).joinSecrets })).toEqual(
      configured,
    );
  });
});

describe('dev tokens', () => {
  it('issues an API token the orchestrator’s key ring verifies', async () => {
    const token = await issueDevToken({ user: 'alice', admin: true, dataDir, ttlSeconds: parseTtl('2h') });
    const ring = await loadOrCreateKeyRing(dataDirPaths(dataDir).signingKeys);
    const claims = await verifyToken(token, { kind: 'api', audience: apiAudience, keys: ring.jwks() });
    expect(claims).toMatchObject({ sub: 'alice', role: 'admin' });
    expect(claims.exp! - claims.iat!).toBe(7200);
  });

  it('parses ttl units and refuses bad ttls and user ids', async () => {
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('15m')).toBe(900);
    expect(parseTtl('1d')).toBe(86_400);
    expect(() => parseTtl('forever')).toThrowError(/ttl/);
    await expect(issueDevToken({ user: 'alice', dataDir, ttlSeconds: 365 * 86_400 })).rejects.toThrowError(
      /ttl/,
    );
    await expect(issueDevToken({ user: '../root', dataDir })).rejects.toThrowError(/user/);
  });

  it('prints a token from the command line', async () => {
    const { stdout } = await run('npx', [
      'tsx',
      'src/orchestrator/issue-dev-token.ts',
      '--user',
      'bob',
      '--data-dir',
      dataDir,
    ]);
    const ring = await loadOrCreateKeyRing(dataDirPaths(dataDir).signingKeys);
    const claims = await verifyToken(stdout.trim(), {
      kind: 'api',
      audience: apiAudience,
      keys: ring.jwks(),
    });
    expect(claims).toMatchObject({ sub: 'bob', role: 'user' });
  });
});
