/**
 * The test-only fault-point setting, parsed (pure). `CODEYARD_FAULT_POINTS` lists the points that
 * fire, comma-separated, each `name[@hit][:action]`:
 *
 *   after-placement-write                 crash (SIGKILL itself) the first time the point is reached
 *   after-port-allocation@2               crash the second time
 *   before-agent-call@1:freeze            SIGSTOP itself there (the test sends SIGCONT later)
 *
 * A name that is not a known point stops start-up: a typo must not turn a chaos test into a
 * test of nothing.
 */
import { CodeyardError } from '../model/errors.js';

/** Every place in the product where a fault can be injected (see `faultPoint`). */
export const faultPointNames = [
  // Reconciler (orchestrator leader).
  'after-placement-write',
  'before-store-write',
  'before-agent-call',
  // Node agent.
  'after-port-allocation',
  'after-kv-write',
  'after-container-create',
] as const;
export type FaultPointName = (typeof faultPointNames)[number];

/** `crash`: SIGKILL, no cleanup, no flush. `freeze`: SIGSTOP, as a long GC pause or a stopped VM. */
export type FaultAction = 'crash' | 'freeze';
const faultActions: readonly FaultAction[] = ['crash', 'freeze'];

/** A hit count larger than this is surely a mistake in the setting. */
export const faultHitMax = 1_000_000;

export interface ArmedFault {
  readonly name: FaultPointName;
  /** Fires on this hit of the point in one process (1 = the first time it is reached). */
  readonly hit: number;
  readonly action: FaultAction;
}

const entryPattern = /^([a-z][a-z-]*)(?:@([0-9]+))?(?::([a-z]+))?$/;

export function isFaultPointName(name: string): name is FaultPointName {
  return (faultPointNames as readonly string[]).includes(name);
}

/** Parses the setting; throws `VALIDATION_FAILED` naming the bad entry. Empty means none armed. */
export function parseFaultPoints(setting: string): ArmedFault[] {
  const armed: ArmedFault[] = [];
  for (const raw of setting.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const match = entryPattern.exec(entry);
    if (match === null) throw invalid(entry, 'expected name[@hit][:action]');
    const [, name = '', hitText, actionText] = match;
    if (!isFaultPointName(name)) throw invalid(entry, `unknown point; known: ${faultPointNames.join(', ')}`);
    const hit = hitText === undefined ? 1 : Number(hitText);
    if (!Number.isSafeInteger(hit) || hit < 1 || hit > faultHitMax) {
      throw invalid(entry, `hit must be 1..${faultHitMax}`);
    }
    const action = (actionText ?? 'crash') as FaultAction;
    if (!faultActions.includes(action)) throw invalid(entry, `action must be ${faultActions.join(' or ')}`);
    if (armed.some((a) => a.name === name)) throw invalid(entry, 'point armed twice');
    armed.push({ name, hit, action });
  }
  return armed;
}

function invalid(entry: string, why: string): CodeyardError {
  return new CodeyardError('VALIDATION_FAILED', `CODEYARD_FAULT_POINTS entry "${entry}": ${why}`, {
    field: 'CODEYARD_FAULT_POINTS',
  });
}
