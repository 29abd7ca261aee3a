/**
 * The fault points' only reading of the environment, once, when the process loads the module
 * (at start-up: product modules that call `faultPoint` import it). Unset in production, where
 * every point is a no-op.
 */
import { parseFaultPoints, type ArmedFault } from './fault-point-spec.js';

export interface FaultPointsConfig {
  readonly armed: readonly ArmedFault[];
  /**
   * `CODEYARD_FAULT_POINTS_ONCE_DIR`: a point fires only if `<dir>/<name>` does not exist yet and
   * creates it first — once across restarts of a process started again with the same setting
   * (a supervisor restarting a crashed agent), and evidence for the test that it fired.
   */
  readonly onceDir: string | undefined;
}

export function loadFaultPointsConfig(
  environment: Readonly<Record<string, string | undefined>> = process.env,
): FaultPointsConfig {
  const onceDir = environment.CODEYARD_FAULT_POINTS_ONCE_DIR;
  return {
    armed: parseFaultPoints(environment.CODEYARD_FAULT_POINTS ?? ''),
    onceDir: onceDir === undefined || onceDir === '' ? undefined : onceDir,
  };
}
