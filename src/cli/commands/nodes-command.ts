import { parseCommandArgs } from '../args.js';
import { clientFrom, printJson, type Command } from '../command.js';
import { age, renderTable } from '../format.js';

interface NodeView {
  name: string;
  fleet: string;
  capacity: { slots: number };
  allocatable: { slots: number };
  unschedulable?: boolean;
  draining?: boolean;
  containers?: unknown[];
  conditions?: { type: string; status: string }[];
  lastHeartbeatTime?: string;
}

export const nodesCommand: Command = {
  name: 'nodes',
  summary: 'list the fleet’s nodes with their slots (admin)',
  usage: 'codeyard nodes',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, {});
    const list = await clientFrom(values).listNodes();
    if (values.json) {
      printJson(io, list);
      return 0;
    }
    const nodes = list.items as NodeView[];
    if (nodes.length === 0) {
      io.out('No nodes.');
      return 0;
    }
    const rows = nodes.map((n) => {
      const ready = n.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      const status = [
        ready ? 'Ready' : 'NotReady',
        n.unschedulable ? 'Cordoned' : '',
        n.draining ? 'Draining' : '',
      ]
        .filter(Boolean)
        .join(',');
      const used = n.capacity.slots - n.allocatable.slots;
      return [n.name, n.fleet, status, `${used}/${n.capacity.slots}`, age(n.lastHeartbeatTime, io.nowMs())];
    });
    io.out(renderTable(['NAME', 'FLEET', 'STATUS', 'SLOTS', 'LAST BEAT'], rows));
    return 0;
  },
};
