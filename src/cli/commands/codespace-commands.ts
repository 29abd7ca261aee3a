import { usageError } from '../cli-error.js';
import { parseCommandArgs, requireName } from '../args.js';
import { clientFrom, printJson, type Command } from '../command.js';
import { renderCodespaceDetail, renderCodespaces } from '../format.js';

export const createCommand: Command = {
  name: 'create',
  summary: 'create a codespace (it starts at once unless --stopped)',
  usage:
    'codeyard create NAME [--image REF] [--cpu N] [--memory MiB] [--disk GiB] [--idle-timeout SECONDS] [--repo URL] [--label k=v]... [--env K=V]... [--stopped]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      image: { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      disk: { type: 'string' },
      'idle-timeout': { type: 'string' },
      repo: { type: 'string' },
      label: { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      stopped: { type: 'boolean', default: false },
    });
    const name = requireName(positionals, 'create');
    const resources: Record<string, number> = {};
    if (values.cpu) resources.cpu = numberFlag('cpu', values.cpu);
    if (values.memory) resources.memoryMiB = numberFlag('memory', values.memory);
    if (values.disk) resources.diskGiB = numberFlag('disk', values.disk);
    const spec: Record<string, unknown> = { running: !values.stopped };
    if (values.image) spec.image = values.image;
    if (Object.keys(resources).length > 0) spec.resources = resources;
    if (values['idle-timeout']) spec.idleTimeoutSeconds = numberFlag('idle-timeout', values['idle-timeout']);
    if (values.repo) spec.repository = { url: values.repo };
    if (values.env) spec.env = pairs('env', values.env);
    const metadata: Record<string, unknown> = { name };
    if (values.label) metadata.labels = pairs('label', values.label);
    const created = await clientFrom(values).createCodespace({ metadata, spec });
    if (values.json) printJson(io, created);
    else io.out(`codespace/${created.metadata.name} created`);
    return 0;
  },
};

export const listCommand: Command = {
  name: 'ls',
  summary: 'list your codespaces',
  usage: 'codeyard ls [--owner USER] [--selector k=v,...]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { owner: { type: 'string' }, selector: { type: 'string' } });
    const query: Record<string, string> = {};
    if (values.owner) query.owner = values.owner;
    if (values.selector) query.labelSelector = values.selector;
    const list = await clientFrom(values).listCodespaces(query);
    if (values.json) printJson(io, list);
    else io.out(renderCodespaces(list.items, io.nowMs()));
    return 0;
  },
};

export const getCommand: Command = {
  name: 'get',
  summary: 'show one codespace with its status and conditions',
  usage: 'codeyard get NAME',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {});
    const codespace = await clientFrom(values).getCodespace(requireName(positionals, 'get'));
    if (values.json) printJson(io, codespace);
    else io.out(renderCodespaceDetail(codespace, io.nowMs()));
    return 0;
  },
};

function runningCommand(name: 'start' | 'stop', running: boolean): Command {
  return {
    name,
    summary: running
      ? 'start a stopped codespace (its files are kept)'
      : 'stop a codespace (its files are kept)',
    usage: `codeyard ${name} NAME`,
    async run(argv, io) {
      const { values, positionals } = parseCommandArgs(argv, {});
      const codespace = await clientFrom(values).setRunning(requireName(positionals, name), running);
      if (values.json) printJson(io, codespace);
      else io.out(`codespace/${codespace.metadata.name} ${running ? 'starting' : 'stopping'}`);
      return 0;
    },
  };
}
export const startCommand = runningCommand('start', true);
export const stopCommand = runningCommand('stop', false);

export const removeCommand: Command = {
  name: 'rm',
  summary: 'delete a codespace, its container and its files',
  usage: 'codeyard rm NAME',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {});
    const name = requireName(positionals, 'rm');
    const result = await clientFrom(values).deleteCodespace(name);
    if (values.json) printJson(io, result);
    else io.out(`codespace/${name} deleted`);
    return 0;
  },
};

function numberFlag(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value)) throw usageError(`--${flag} must be a number, got "${raw}"`);
  return value;
}

function pairs(flag: string, raw: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of raw) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--${flag} takes KEY=VALUE, got "${item}"`);
    result[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return result;
}
