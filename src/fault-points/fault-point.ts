/**
 * `faultPoint(name)`: a named place in the product where a chaos test can make the process crash
 * (SIGKILL itself: no cleanup, no flush, no `finally`) or freeze (SIGSTOP itself until the test
 * sends SIGCONT). A no-op unless the process was started with `CODEYARD_FAULT_POINTS` naming it;
 * see `fault-point-spec.ts` for the syntax. The setting is parsed when this module loads, so an
 * unknown name stops the process at start-up.
 */
import { writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadFaultPointsConfig, type FaultPointsConfig } from './config.js';
import type { ArmedFault, FaultPointName } from './fault-point-spec.js';

export type { FaultPointName } from './fault-point-spec.js';

const config: FaultPointsConfig = loadFaultPointsConfig();
const armedByName = new Map<FaultPointName, ArmedFault>(config.armed.map((a) => [a.name, a]));
const hits = new Map<FaultPointName, number>();

export function faultPoint(name: FaultPointName): void {
  // The production path: one map lookup on an empty map.
  const armed = armedByName.get(name);
  if (armed === undefined) return;
  const hit = (hits.get(name) ?? 0) + 1;
  hits.set(name, hit);
  if (hit !== armed.hit || !claimOnce(name)) return;
  // Synchronous, so the line is in the log before the signal lands.
  writeSync(2, `fault point ${name}: ${armed.action} (pid ${process.pid}, hit ${hit})\n`);
  process.kill(process.pid, armed.action === 'crash' ? 'SIGKILL' : 'SIGSTOP');
}

/** True when this process may fire `name`: always without a once-dir, else only the first claimant. */
function claimOnce(name: FaultPointName): boolean {
  if (config.onceDir === undefined) return true;
  try {
    writeFileSync(join(config.onceDir, name), `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch {
    // Already fired (the marker exists), or the dir is unusable: firing twice would be worse.
    return false;
  }
}
