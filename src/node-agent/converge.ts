import type { Logger } from 'pino';
import type { Assignment } from '../model/agent-protocol.js';
import { shouldStopUnassigned } from './assignments.js';
import type { NodeAgent } from './node-agent.js';

export const assignmentGraceMsDefault = 30_000;

export interface ConvergeOptions {
  agent: NodeAgent;
  logger: Logger;
  graceMs?: number;
  nowMs?: () => number;
}

/**
 * Applies a heartbeat response's assignment list (rule in assignments.ts): stops, keeping the
 * volume, each running container nobody assigns. Each stop re-checks the rule under the
 * codespace's lock, against the highest epoch as it is then.
 */
export async function convergeToAssignments(
  options: ConvergeOptions,
  assignments: readonly Assignment[],
  responseEpoch: number,
): Promise<void> {
  const { agent } = options;
  const rule = () => ({
    assigned: new Set(assignments.map((a) => a.uid)),
    responseEpoch,
    highestEpoch: agent.highestEpoch,
    nowMs: (options.nowMs ?? Date.now)(),
    graceMs: options.graceMs ?? assignmentGraceMsDefault,
  });
  for (const entry of agent.entries()) {
    if (!shouldStopUnassigned(entry, rule())) continue;
    const stopped = await agent.stopIfStill(entry.uid, 'NodeLost', (e) => shouldStopUnassigned(e, rule()));
    if (stopped) {
      options.logger.warn(
        { uid: entry.uid, codespace: entry.name, epoch: responseEpoch },
        'stopped a container nobody assigns',
      );
    }
  }
}
