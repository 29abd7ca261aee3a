import type { Heartbeat, NodeRecord } from '../model/node.js';

/**
 * The node record a heartbeat produces. Operator fields (`unschedulable`) are not the node's to
 * set: the caller passes the stored value. Health conditions are judged by the orchestrator on its
 * own clock elsewhere, so none are recorded here.
 */
export function nodeRecordFromHeartbeat(
  heartbeat: Heartbeat,
  options: { receivedAtMs: number; unschedulable: boolean },
): NodeRecord {
  return {
    name: heartbeat.nodeName,
    fleet: heartbeat.fleet,
    agentUrl: heartbeat.agentUrl,
    proxyUrl: heartbeat.proxyUrl,
    capacity: { ...heartbeat.capacity },
    allocatable: { ...heartbeat.allocatable },
    bootId: heartbeat.bootId,
    sequence: heartbeat.sequence,
    highestEpoch: heartbeat.highestEpoch,
    ready: heartbeat.ready,
    draining: heartbeat.draining,
    unschedulable: options.unschedulable,
    lastHeartbeatReceivedMs: options.receivedAtMs,
    lastHeartbeatTime: new Date(options.receivedAtMs).toISOString(),
    conditions: [],
    volumes: [...heartbeat.volumes],
    containers: heartbeat.containers.map((container) => ({ ...container })),
  };
}

/**
 * Boot ids a node has left, remembered per node (newest first) so their late beats stay refused.
 * A node boots a handful of times between heartbeats at most; older boots' beats cannot still be
 * in flight.
 */
export const retiredBootIdsMax = 16;

/**
 * Same boot and not a newer sequence: a late or duplicate beat. A boot the node has since left
 * (`retiredBootIds`) never comes back, so its beats are late too — without this, a beat of the
 * previous boot delayed past a restart would replace the live boot's observed state. Any other
 * new boot id starts afresh.
 */
export function isStaleBeat(
  stored: { bootId: string; sequence: number; retiredBootIds?: readonly string[] } | undefined,
  heartbeat: Heartbeat,
): boolean {
  if (stored === undefined) return false;
  if (stored.retiredBootIds?.includes(heartbeat.bootId)) return true;
  return stored.bootId === heartbeat.bootId && heartbeat.sequence <= stored.sequence;
}

/** The retired list after an accepted beat: the boot it replaced joins it (bounded). */
export function retiredAfter(
  stored: { bootId: string; retiredBootIds?: readonly string[] } | undefined,
  heartbeat: Heartbeat,
): string[] {
  const retired = [...(stored?.retiredBootIds ?? [])];
  if (stored !== undefined && stored.bootId !== heartbeat.bootId) retired.unshift(stored.bootId);
  return retired.slice(0, retiredBootIdsMax);
}
