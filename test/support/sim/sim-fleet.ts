import type { FleetDescription, FleetProvider } from '../../../src/fleet/fleet-provider.js';
import type { Clock } from '../../../src/reconciler/clock.js';
import { SimNode } from './sim-node.js';

/** A fleet like an Auto Scaling Group: a terminated instance is gone for good and replaced. */
export class SimFleet implements Pick<FleetProvider, 'terminate' | 'describe'> {
  readonly nodes = new Map<string, SimNode>();
  private readonly clock: Clock;
  private readonly slots: number;
  terminations = 0;

  constructor(options: { clock: Clock; nodeCount: number; slotsPerNode: number }) {
    this.clock = options.clock;
    this.slots = options.slotsPerNode;
    for (let i = 0; i < options.nodeCount; i += 1) this.launch(`n${i}`);
  }

  private launch(name: string): SimNode {
    const node = new SimNode({ name, slots: this.slots, clock: this.clock });
    this.nodes.set(name, node);
    return node;
  }

  /** Nodes whose instance still exists, in name order. */
  liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !n.terminated).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async terminate(nodeName: string): Promise<void> {
    const node = this.nodes.get(nodeName);
    if (node === undefined || node.terminated) return;
    node.terminated = true;
    node.up = false;
    node.containers.clear();
    node.volumes.clear();
    this.terminations += 1;
    this.launch(`${nodeName}r`);
  }

  async describe(): Promise<FleetDescription> {
    const instances = [...this.nodes.values()].map((n) => ({
      nodeName: n.name,
      lifecycle: n.terminated ? ('Terminated' as const) : ('InService' as const),
    }));
    return { fleet: 'sim', minSize: 0, maxSize: 100, desiredCapacity: instances.length, instances };
  }
}
