import type { ObservedContainer } from '../model/node.js';
import type { JudgedNode } from './node-health.js';
import type { ObservedOnNode, PlanInput } from './plan.js';

/** The parts of a plan's input the fingerprint reads (no clock, no placement views, no config). */
export type FingerprintInput = Pick<PlanInput, 'codespace' | 'observed' | 'nodes' | 'visibleSinceMs'>;

/**
 * Everything the plan of one codespace reads, except the clock, as one string: while it stays the
 * same, so does the plan — up to the plan's own `requeueAfterMs`, which is the first instant at
 * which the clock alone could change it (a phase deadline, a crash backoff, a restart-count reset).
 * The controller uses it to skip re-planning keys whose last plan was empty (a resync over a calm
 * cluster then costs a lookup per key). A property test holds the planner to it.
 *
 * Read by the plan, and so in the fingerprint: the codespace (its resourceVersion names the whole
 * object), `visibleSinceMs`, the health of the nodes it names (assigned, volume, reporting a copy)
 * and of those nodes' records what the plan reads (proxy URL, draining, whether they hold the
 * volume), and every reported copy. Report times (`observedAtMs`, the node's last heartbeat) change
 * with every beat; they are included except for a codespace running where it should (see
 * `reportTimesMatter`), whose plan provably never reads them.
 *
 * Undefined for keys that are never skipped: a deletion scans every node's volumes, and a running
 * codespace without a node reads every node's placement view.
 */
export function planFingerprint(input: FingerprintInput): string | undefined {
  const { codespace } = input;
  if (codespace.metadata.deletionTimestamp !== undefined) return undefined;
  const { nodeName, volumeNodeName } = codespace.status;
  if (codespace.spec.running && nodeName === undefined) return undefined;
  const uid = codespace.metadata.uid;
  const withTimes = reportTimesMatter(input);
  const names = new Set<string>();
  if (nodeName !== undefined) names.add(nodeName);
  if (volumeNodeName !== undefined) names.add(volumeNodeName);
  for (const o of input.observed) names.add(o.nodeName);
  const parts: string[] = [
    codespace.metadata.name,
    codespace.metadata.resourceVersion,
    String(input.visibleSinceMs),
    withTimes ? 'times' : 'steady',
  ];
  for (const name of [...names].sort()) parts.push(nodePart(name, input.nodes.get(name), uid, withTimes));
  for (const o of sortedCopies(input.observed)) {
    parts.push(`copy ${o.nodeName} ${containerJson(o.container)}${withTimes ? ` @${o.observedAtMs}` : ''}`);
  }
  return parts.join('\n');
}

/**
 * Whether the plan may read when reports were made. It does not for a codespace wanted running,
 * recorded Running on a node judged Ready, with no exited copy anywhere: that path (running.ts)
 * reads states, generations and activity of the copies, and node health, but no report time
 * (those matter to crash detection of an exited copy, to confirming a stop or a removal, and to
 * messages about silent nodes).
 */
function reportTimesMatter(input: FingerprintInput): boolean {
  const { codespace } = input;
  const nodeName = codespace.status.nodeName;
  if (!codespace.spec.running || codespace.status.phase !== 'Running' || nodeName === undefined) return true;
  if (input.nodes.get(nodeName)?.health !== 'Ready') return true;
  return input.observed.some((o) => o.container.state === 'exited');
}

function nodePart(name: string, node: JudgedNode | undefined, uid: string, withTimes: boolean): string {
  if (node === undefined) return `node ${name} unknown`;
  const record = node.record;
  if (record === undefined) return `node ${name} ${node.health} no-record`;
  const fields = [
    'node',
    name,
    node.health,
    record.proxyUrl,
    String(record.draining),
    String(record.volumes.includes(uid)),
  ];
  if (withTimes) fields.push(String(record.lastHeartbeatReceivedMs), record.lastHeartbeatTime);
  return fields.join(' ');
}

/**
 * A container's JSON, computed once per report object: node records are read-only and the store
 * hands back the same object while a node's record is unchanged, so a resync over a calm fleet
 * serializes each container once, not once per pass.
 */
const containerJsonMemo = new WeakMap<ObservedContainer, string>();

function containerJson(container: ObservedContainer): string {
  let json = containerJsonMemo.get(container);
  if (json === undefined) {
    json = JSON.stringify(container);
    containerJsonMemo.set(container, json);
  }
  return json;
}

function sortedCopies(observed: readonly ObservedOnNode[]): readonly ObservedOnNode[] {
  if (observed.length < 2) return observed;
  return [...observed].sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
}
