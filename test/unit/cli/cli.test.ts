import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { parseTtlSeconds } from '../../../src/cli/commands/token-command.js';
import { resolveConnection } from '../../../src/cli/config.js';
import { age, renderCodespaces, renderTable } from '../../../src/cli/format.js';
import { aCodespace, fixtureEpochMs } from '../../support/fixtures.js';

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), nowMs: () => fixtureEpochMs },
  };
}

describe('the codeyard command line', () => {
  it('prints help and exits 2 without a command, 0 with `help`', async () => {
    const none = captured();
    expect(await main([], none.io)).toBe(2);
    expect(none.out.join('\n')).toContain('Commands:');
    expect(await main(['help'], captured().io)).toBe(0);
  });

  it('refuses an unknown command and an unknown flag with usage exit code 2', async () => {
    const unknown = captured();
    expect(await main(['launch'], unknown.io)).toBe(2);
    expect(unknown.err.join('\n')).toContain('unknown command "launch"');
    const badFlag = captured();
    expect(await main(['ls', '--colour'], badFlag.io)).toBe(2);
    expect(badFlag.err.join('\n')).toContain("Unknown option '--colour'");
  });

  it('names the unreachable API and exits 6', async () => {
    const run = captured();
    expect(await main(['ls', '--api-url', 'http://127.0.0.1:9', '--token', 'x'], run.io)).toBe(6);
    expect(run.err.join('\n')).toContain('cannot reach the codeyard API at http://127.0.0.1:9');
  });

  it('takes the API URL and token from flags first, then the environment', () => {
    const env = {
      CODEYARD_API_URL: 'http://env:1/',
      CODEYARD_TOKEN: 'env-token',
      CODEYARD_CONFIG: '/nonexistent',
    };
    expect(resolveConnection({}, env)).toEqual({ apiUrl: 'http://env:1', token: 'env-token' });
    expect(resolveConnection({ apiUrl: 'http://flag:2', token: 'flag-token' }, env)).toEqual({
      apiUrl: 'http://flag:2',
      token: 'flag-token',
    });
  });

  it('reads token lifetimes like 30m, 24h and 7d, and refuses nonsense', () => {
    expect(parseTtlSeconds('30m')).toBe(1800);
    expect(parseTtlSeconds('24h')).toBe(86_400);
    expect(parseTtlSeconds('7d')).toBe(604_800);
    expect(() => parseTtlSeconds('forever')).toThrow('--ttl takes a duration');
    expect(() => parseTtlSeconds('1s')).toThrow('between 1m and 7d');
    expect(() => parseTtlSeconds('30d')).toThrow('between 1m and 7d');
  });

  it('renders aligned tables and readable ages', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['x', 'y'],
          ['wide-cell', 'z'],
        ],
      ),
    ).toBe(['A           LONGER', 'x           y', 'wide-cell   z'].join('\n'));
    expect(age(new Date(fixtureEpochMs - 90_000).toISOString(), fixtureEpochMs)).toBe('90s');
    expect(age(new Date(fixtureEpochMs - 3 * 3600_000).toISOString(), fixtureEpochMs)).toBe('3h');
    expect(renderCodespaces([], fixtureEpochMs)).toBe('No codespaces.');
    const table = renderCodespaces(
      [aCodespace({ name: 'web', phase: 'Running', nodeName: 'local-1' })],
      fixtureEpochMs,
    );
    expect(table.split('\n')[0]).toMatch(/^NAME\s+OWNER\s+PHASE\s+RUNNING\s+NODE\s+REASON\s+AGE$/);
    expect(table).toContain('web');
    expect(table).toContain('local-1');
  });
});
