import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { userIdPattern } from '../../model/names.js';
import { startPlatform } from '../../platform/start-platform.js';
import { usageError } from '../cli-error.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { cliConfigPath, dataDirFrom } from '../config.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function integerFlag(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** A user id for the local admin token, from the login name (made valid if it is not). */
function localUser(): string {
  const name = userInfo().username.replace(/[^a-zA-Z0-9_.@-]/g, '-');
  return new RegExp(userIdPattern).test(name) ? name : 'admin';
}

export const upCommand: Command = {
  name: 'up',
  summary:
    'run the whole platform on this machine: API, web UI, reconciler and a local fleet (Ctrl-C stops it)',
  usage:
    'codeyard up [--port 8420] [--host 127.0.0.1] [--nodes 1] [--max-nodes 3] [--runtime auto|docker|process] [--data-dir .codeyard] [--scale-in-after 300] [--node-prefix PREFIX] [--log-level info]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {
      port: { type: 'string', default: '8420' },
      host: { type: 'string', default: '127.0.0.1' },
      nodes: { type: 'string', default: '1' },
      'max-nodes': { type: 'string', default: '3' },
      runtime: { type: 'string', default: 'auto' },
      'data-dir': { type: 'string' },
      'scale-in-after': { type: 'string', default: '300' },
      'log-level': { type: 'string', default: 'info' },
      'node-prefix': { type: 'string' },
    });
    const nodePrefix = values['node-prefix'];
    if (nodePrefix !== undefined && !/^[a-z][a-z0-9-]{0,40}$/.test(nodePrefix)) {
      throw usageError(`--node-prefix must be lower-case letters, digits and dashes, got "${nodePrefix}"`);
    }
    const runtime = values.runtime;
    if (runtime !== 'auto' && runtime !== 'docker' && runtime !== 'process') {
      throw usageError(`--runtime must be auto, docker or process, got "${runtime}"`);
    }
    const logLevel = values['log-level'] as (typeof logLevels)[number];
    if (!logLevels.includes(logLevel)) throw usageError(`--log-level must be one of ${logLevels.join(', ')}`);
    const minNodes = integerFlag('nodes', values.nodes, 0, 20);
    const maxNodes = integerFlag('max-nodes', values['max-nodes'], Math.max(1, minNodes), 20);
    const dataDir = dataDirFrom({ dataDir: values['data-dir'] });

    const platform = await startPlatform({
      host: values.host,
      port: integerFlag('port', values.port, 0, 65_535),
      dataDir,
      ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
      minNodes,
      maxNodes,
      runtime,
      user: localUser(),
      scaleInCooldownMs: integerFlag('scale-in-after', values['scale-in-after'], 10, 86_400) * 1000,
      logLevel,
      ...(nodePrefix ? { nodeNamePrefix: nodePrefix } : {}),
      onProgress: (line) => io.out(line),
    });
    const configPath = cliConfigPath();
    await mkdir(dirname(configPath), { recursive: true });
    await writeFile(configPath, JSON.stringify({ apiUrl: platform.url, token: platform.token }, null, 2), {
      mode: 0o600,
    });
    io.out(
      [
        '',
        'codeyard is up.',
        `  Web UI:  ${platform.uiUrl}`,
        `  API:     ${platform.url}  (docs at ${platform.url}/docs)`,
        `  Token:   ${platform.token}`,
        `  CLI:     npx codeyard ls   (configured in ${configPath})`,
        `  Logs:    ${dataDir}/logs/orchestrator.log, ${dataDir}/nodes/<node>/{agent,proxy}.log`,
        '',
        'Press Ctrl-C to stop everything.',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    io.out('stopping: nodes and their containers, then the orchestrator…');
    await platform.stop();
    io.out('stopped.');
    return 0;
  },
};
