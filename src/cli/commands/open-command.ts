import { spawn } from 'node:child_process';
import { parseCommandArgs, requireName } from '../args.js';
import { clientFrom, printJson, type Command } from '../command.js';
import { isInteractive } from '../config.js';

export const openCommand: Command = {
  name: 'open',
  summary: 'print (or open in a browser with --browser) the codespace URL with a fresh token',
  usage: 'codeyard open NAME [--browser]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { browser: { type: 'boolean', default: false } });
    const grant = await clientFrom(values).access(requireName(positionals, 'open'));
    if (values.json) printJson(io, grant);
    else io.out(grant.url);
    if (values.browser && isInteractive()) {
      // xdg-open detaches; a missing opener is not an error, the URL is printed above.
      spawn('xdg-open', [grant.url], { stdio: 'ignore', detached: true })
        .on('error', () => undefined)
        .unref();
    }
    return 0;
  },
};
