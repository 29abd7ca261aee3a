import type { Assignment } from '../model/agent-protocol.js';
import type { Codespace } from '../model/codespace.js';

/**
 * What this node should run, for the heartbeat response: codespaces assigned to it (with the
 * user's wish), and stopped codespaces whose volume it holds (to be kept, not run).
 */
export function assignmentsOn(nodeName: string, codespaces: Iterable<Codespace>): Assignment[] {
  const assignments: Assignment[] = [];
  for (const codespace of codespaces) {
    const { status, metadata, spec } = codespace;
    const assigned = status.nodeName === nodeName;
    if (!assigned && status.volumeNodeName !== nodeName) continue;
    assignments.push({
      uid: metadata.uid,
      name: metadata.name,
      owner: metadata.owner,
      generation: metadata.generation,
      running: assigned && spec.running && metadata.deletionTimestamp === undefined,
    });
  }
  return assignments;
}
