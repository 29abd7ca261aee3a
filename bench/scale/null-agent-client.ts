import type { AgentClient } from '../../src/reconciler/agent-client.js';

/** An agent client whose commands cost nothing: the benchmark measures the orchestrator, not nodes. */
export class NullAgentClient implements AgentClient {
  commands = 0;

  async ensureRunning(): Promise<void> {
    this.commands += 1;
  }

  async stop(): Promise<void> {
    this.commands += 1;
  }

  async remove(): Promise<void> {
    this.commands += 1;
  }
}
