import { readFileSync } from 'node:fs';

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every common kernel). */
export const clockTicksPerSecond = 100;

/**
 * CPU time (user + system, every thread) a process has used so far, in ms, from
 * `/proc/<pid>/stat` fields 14 and 15. Resolution is one tick (10 ms): measure long phases.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicksPerSecond;
}

/** The 1-minute load average: how busy the shared machine was while we measured. */
export function loadAverage1m(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
