import { execFileSync } from 'node:child_process';

/**
 * The machine has two cores: the load generator runs on one, the system under test (and its
 * redis-server) on the other, so neither steals the other's CPU time.
 */
export const loadGeneratorCpu = 0;
export const systemUnderTestCpu = 1;

/** Pins every thread of a running process (`taskset -a -p`). */
export function pinProcess(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** `taskset -c <cpu> <command…>`: the process starts pinned, and so do its children. */
export function pinnedCommand(cpu: number, command: readonly string[]): [string, string[]] {
  return ['taskset', ['-c', String(cpu), ...command]];
}
