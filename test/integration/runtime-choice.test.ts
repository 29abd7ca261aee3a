import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseRuntime } from '../../src/node-agent/runtime/choose-runtime.js';

const dataDir = mkdtempSync(join(tmpdir(), 'codeyard-runtime-choice-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const base = {
  nodeName: 'choice',
  dataDir,
  pidsLimit: 64,
  processBaseEnv: {},
  logger: pino({ level: 'silent' }),
};
const noEngine = { socketPath: join(dataDir, 'no-docker.sock') };

describe('runtime choice', () => {
  it('uses Docker when the engine answers', async () => {
    expect((await chooseRuntime({ ...base, mode: 'auto' })).kind).toBe('docker');
  });

  it('falls back to local processes when no engine answers in auto mode', async () => {
    expect((await chooseRuntime({ ...base, mode: 'auto', dockerOptions: noEngine })).kind).toBe('process');
  });

  it('refuses to start without an engine when Docker was asked for explicitly', async () => {
    await expect(chooseRuntime({ ...base, mode: 'docker', dockerOptions: noEngine })).rejects.toThrow(
      /no Docker engine/,
    );
  });

  it('uses local processes when asked, without touching Docker', async () => {
    expect((await chooseRuntime({ ...base, mode: 'process' })).kind).toBe('process');
  });
});
