import type { Codespace } from '../../model/codespace.js';
import { parseCommandArgs } from '../args.js';
import { clientFrom, type Command } from '../command.js';
import { isInteractive } from '../config.js';
import { renderCodespaces } from '../format.js';

export const watchCommand: Command = {
  name: 'watch',
  summary: 'a live status table of your codespaces (Ctrl-C to quit)',
  usage: 'codeyard watch',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {});
    const client = clientFrom(values);
    const list = await client.listCodespaces();
    const byName = new Map<string, Codespace>(list.items.map((c) => [c.metadata.name, c]));
    const interactive = isInteractive() && !values.json;
    const redraw = () => {
      const table = renderCodespaces(
        [...byName.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
        io.nowMs(),
      );
      io.out(interactive ? `\x1b[2J\x1b[H${table}` : table);
    };
    if (!values.json) redraw();
    try {
      for await (const event of client.watch(list.metadata?.resourceVersion ?? '0', io.signal)) {
        if (event.type === 'BOOKMARK') continue;
        if (event.type === 'DELETED') byName.delete(event.object.metadata.name);
        else byName.set(event.object.metadata.name, event.object);
        if (values.json) io.out(JSON.stringify({ type: event.type, object: event.object }));
        else if (interactive) redraw();
        else io.out(`${event.type} ${event.object.metadata.name} ${event.object.status.phase}`);
      }
    } catch (error) {
      if (!io.signal.aborted) throw error;
    }
    return 0;
  },
};
