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

/** Same boot and not a newer sequence: a late or duplicate beat. A new boot id starts afresh. */
export function isStaleBeat(
  stored: { bootId: string; sequence: number } | undefined,
  heartbeat: Heartbeat,
): boolean {
  return stored !== undefined && stored.bootId === heartbeat.bootId && heartbeat.sequence <= stored.sequence;
}
