import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * What the process runtime remembers of one workload: the same labels a Docker container
 * carries, plus the pid (and its kernel start time, so a recycled pid is never mistaken for
 * ours). One small file per codespace under `<dataDir>/processes/`.
 */
export interface ProcessRecord {
  labels: Record<string, string>;
  pid?: number;
  /** Field 22 of /proc/<pid>/stat when we started it. */
  pidStartTicks?: string;
  startedAt?: string;
  exitCode?: number;
}

export class ProcessStateFiles {
  constructor(private readonly directory: string) {}

  pathFor(uid: string): string {
    return join(this.directory, `${uid}.json`);
  }

  logPathFor(uid: string): string {
    return join(this.directory, `${uid}.log`);
  }

  async read(uid: string): Promise<ProcessRecord | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.pathFor(uid), 'utf8')) as ProcessRecord;
      return typeof parsed.labels === 'object' && parsed.labels !== null ? parsed : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      // A damaged file is treated as missing; the next ensure rewrites it.
      return undefined;
    }
  }

  async write(uid: string, record: ProcessRecord): Promise<void> {
    await writeFileAtomic(this.pathFor(uid), JSON.stringify(record));
  }

  async delete(uid: string): Promise<void> {
    await rm(this.pathFor(uid), { force: true });
    await rm(this.logPathFor(uid), { force: true });
  }

  async uids(): Promise<string[]> {
    try {
      const names = await readdir(this.directory);
      return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}

/** The kernel start time of a live, non-zombie process, or undefined when there is none. */
export async function processStartTicks(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}
