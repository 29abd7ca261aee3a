import type { EnsureRunningRequest, StopRequest } from '../../../src/model/agent-protocol.js';
import {
  AgentUnreachableError,
  type AgentClient,
  type AgentTarget,
} from '../../../src/reconciler/agent-client.js';
import type { SimFleet } from './sim-fleet.js';

/**
 * Commands delivered to simulated nodes. A node marked flaky fails its commands, alternately
 * before the node acts and after (the answer is lost): the reconciler must cope with both.
 */
export class SimAgentClient implements AgentClient {
  private readonly fleet: SimFleet;
  readonly flaky = new Set<string>();
  private calls = 0;

  constructor(fleet: SimFleet) {
    this.fleet = fleet;
  }

  async ensureRunning(target: AgentTarget, uid: string, request: EnsureRunningRequest): Promise<void> {
    this.deliver(target, 'ensureRunning', (node) => node.ensureRunning(uid, request, target.epoch));
  }

  async stop(target: AgentTarget, uid: string, request: StopRequest): Promise<void> {
    this.deliver(target, 'stop', (node) => node.stop(uid, request, target.epoch));
  }

  async remove(target: AgentTarget, uid: string): Promise<void> {
    this.deliver(target, 'remove', (node) => node.remove(uid, target.epoch));
  }

  private deliver(
    target: AgentTarget,
    command: string,
    act: (node: NonNullable<ReturnType<SimFleet['nodes']['get']>>) => void,
  ): void {
    const node = this.fleet.nodes.get(target.nodeName);
    if (node === undefined)
      throw new AgentUnreachableError(target.nodeName, command, new Error('no such host'));
    this.calls += 1;
    const flaky = this.flaky.has(target.nodeName);
    if (flaky && this.calls % 2 === 0)
      throw new AgentUnreachableError(target.nodeName, command, new Error('timeout'));
    act(node);
    if (flaky) throw new AgentUnreachableError(target.nodeName, command, new Error('answer lost'));
  }
}
