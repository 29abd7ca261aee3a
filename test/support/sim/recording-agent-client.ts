import type { EnsureRunningRequest, StopRequest } from '../../../src/model/agent-protocol.js';
import type { AgentClient, AgentTarget } from '../../../src/reconciler/agent-client.js';

export type RecordedCommand =
  | { kind: 'ensureRunning'; node: string; epoch: number; uid: string; request: EnsureRunningRequest }
  | { kind: 'stop'; node: string; epoch: number; uid: string; request: StopRequest }
  | { kind: 'remove'; node: string; epoch: number; uid: string };

/** Records every command; `failWith` makes commands to one node throw. */
export class RecordingAgentClient implements AgentClient {
  readonly commands: RecordedCommand[] = [];
  readonly failures = new Map<string, Error>();

  failWith(nodeName: string, error: Error): void {
    this.failures.set(nodeName, error);
  }

  async ensureRunning(target: AgentTarget, uid: string, request: EnsureRunningRequest): Promise<void> {
    this.record({ kind: 'ensureRunning', node: target.nodeName, epoch: target.epoch, uid, request });
  }

  async stop(target: AgentTarget, uid: string, request: StopRequest): Promise<void> {
    this.record({ kind: 'stop', node: target.nodeName, epoch: target.epoch, uid, request });
  }

  async remove(target: AgentTarget, uid: string): Promise<void> {
    this.record({ kind: 'remove', node: target.nodeName, epoch: target.epoch, uid });
  }

  private record(command: RecordedCommand): void {
    const failure = this.failures.get(command.node);
    if (failure !== undefined) throw failure;
    this.commands.push(command);
  }
}
