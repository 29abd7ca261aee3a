/**
 * `faultPoint` in a real child process: the only way to see that it really kills (or stops) the
 * process, and that it does nothing unarmed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const childTimeoutMs = 20_000;
const onceDir = mkdtempSync(join(tmpdir(), 'codeyard-fault-once-'));
afterAll(() => rmSync(onceDir, { recursive: true, force: true }));

/** Reaches `after-kv-write` three times, printing a line after each. */
const script = `
import { faultPoint } from './src/fault-points/fault-point.ts';
for (let i = 1; i <= 3; i += 1) { faultPoint('after-kv-write'); process.stdout.write('passed ' + i + '\\n'); }
`;

interface ChildOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function runChild(env: Record<string, string>, onStopped?: (pid: number) => void): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (onStopped && stderr.includes(': freeze (pid')) onStopped(child.pid!);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not finish within ${childTimeoutMs} ms: ${stdout} ${stderr}`));
    }, childTimeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
  });
}

describe('faultPoint in a real process', () => {
  it('does nothing when the process was started without the setting', async () => {
    const outcome = await runChild({});
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toBe('passed 1\npassed 2\npassed 3\n');
  });

  it('kills the process with SIGKILL on the armed hit, with nothing after it run', async () => {
    const outcome = await runChild({ CODEYARD_FAULT_POINTS: 'after-kv-write@2' });
    expect(outcome.signal).toBe('SIGKILL');
    expect(outcome.stdout).toBe('passed 1\n');
    expect(outcome.stderr).toMatch(/fault point after-kv-write: crash \(pid \d+, hit 2\)/);
  });

  it('stops the process with SIGSTOP and lets it carry on after SIGCONT', async () => {
    let stoppedPid: number | undefined;
    const outcome = await runChild({ CODEYARD_FAULT_POINTS: 'after-kv-write@1:freeze' }, (pid) => {
      if (stoppedPid !== undefined) return;
      stoppedPid = pid;
      // It is stopped (state T) before it can print anything further.
      setTimeout(() => {
        expect(readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]).toBe('T');
        process.kill(pid, 'SIGCONT');
      }, 300);
    });
    expect(stoppedPid).toBeDefined();
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toBe('passed 1\npassed 2\npassed 3\n');
  });

  it('fires once across restarts when given a once-dir, leaving a marker', async () => {
    const env = { CODEYARD_FAULT_POINTS: 'after-kv-write', CODEYARD_FAULT_POINTS_ONCE_DIR: onceDir };
    expect((await runChild(env)).signal).toBe('SIGKILL');
    expect(existsSync(join(onceDir, 'after-kv-write'))).toBe(true);
    const restarted = await runChild(env);
    expect(restarted.code).toBe(0);
    expect(restarted.stdout).toBe('passed 1\npassed 2\npassed 3\n');
  });

  it('refuses to start with an unknown point name', async () => {
    const outcome = await runChild({ CODEYARD_FAULT_POINTS: 'after-lunch' });
    expect(outcome.code).not.toBe(0);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/CODEYARD_FAULT_POINTS entry "after-lunch": unknown point/);
  });
});
