// Not a test file: event builders shared by the state-machine tests.
import type {
  CodespaceEvent,
  CodespaceEventType,
  NodeEvent,
  NodeEventType,
} from '../../../src/state-machines/index.js';

/** A representative event of each type at `atMs`. */
export function aCodespaceEvent(type: CodespaceEventType, atMs: number): CodespaceEvent {
  switch (type) {
    case 'PLACED':
      return { type, atMs, nodeName: 'n2' };
    case 'CONTAINER_STOPPED':
      return { type, atMs, reason: 'Idle' };
    case 'CONTAINER_CRASHED':
      return { type, atMs, exitCode: 1 };
    default:
      return { type, atMs };
  }
}

export function aNodeEvent(type: NodeEventType, atMs: number, options: { ready?: boolean } = {}): NodeEvent {
  return type === 'HEARTBEAT_OK' ? { type, atMs, ready: options.ready ?? true } : { type, atMs };
}
