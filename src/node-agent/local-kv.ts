import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import {
  localKvFileName,
  localKvFormat,
  parseLocalKv,
  type KvCodespaceEntry,
  type LocalKvDocument,
} from './local-kv-format.js';

/** Pause before retrying a failed KV write. */
export const kvWriteRetryDelayMs = 1_000;

export interface LocalKvOptions {
  dataDir: string;
  nodeName: string;
  /** The pool's free ports at write time. */
  freePorts: () => number[];
  nowIso?: () => string;
}

/**
 * The agent's side of the local KV: entries by uid in memory, written to `<dataDir>/kv.json`
 * atomically after each change. Writes are coalesced: a burst of changes costs one write, and
 * a change made during a write is picked up by the next one.
 */
export class LocalKv {
  private readonly entries = new Map<string, KvCodespaceEntry & { name: string }>();
  private version = 0;
  private draining = false;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private lastWriteError: unknown;
  readonly path: string;

  constructor(private readonly options: LocalKvOptions) {
    this.path = join(options.dataDir, localKvFileName);
  }

  /** Reads the previous file, if any: its version, draining flag and per-uid facts labels cannot hold. */
  async loadPrevious(): Promise<LocalKvDocument | undefined> {
    try {
      const doc = parseLocalKv(await readFile(this.path, 'utf8'));
      if (doc) {
        this.version = doc.version;
        this.draining = doc.draining === true;
      }
      return doc;
    } catch {
      return undefined;
    }
  }

  get(uid: string): Readonly<KvCodespaceEntry & { name: string }> | undefined {
    return this.entries.get(uid);
  }

  all(): ReadonlyArray<Readonly<KvCodespaceEntry & { name: string }>> {
    return [...this.entries.values()];
  }

  isDraining(): boolean {
    return this.draining;
  }

  setDraining(draining: boolean): void {
    this.draining = draining;
    this.markDirty();
  }

  set(uid: string, entry: KvCodespaceEntry & { name: string }): void {
    this.entries.set(uid, { ...entry });
    this.markDirty();
  }

  update(uid: string, patch: Partial<KvCodespaceEntry>): void {
    const entry = this.entries.get(uid);
    if (!entry) return;
    this.entries.set(uid, { ...entry, ...patch });
    this.markDirty();
  }

  delete(uid: string): void {
    if (this.entries.delete(uid)) this.markDirty();
  }

  /** Resolves once everything changed so far is on disk; throws when the disk refuses. */
  async flush(): Promise<void> {
    while (this.dirty || this.writing) {
      if (!this.writing) this.startWrite();
      await this.writing;
      if (this.lastWriteError) throw this.lastWriteError;
    }
  }

  document(): LocalKvDocument {
    const codespaces: Record<string, KvCodespaceEntry> = {};
    const users: Record<string, string[]> = {};
    // A running entry wins over a stopped one of the same name (a codespace recreated under a new uid).
    const ordered = [...this.entries.values()].sort((a, b) => rank(a.state) - rank(b.state));
    for (const { name, ...entry } of ordered) codespaces[name] = entry;
    for (const [name, entry] of Object.entries(codespaces)) (users[entry.owner] ??= []).push(name);
    return {
      format: localKvFormat,
      version: this.version,
      nodeName: this.options.nodeName,
      writtenAt: (this.options.nowIso ?? (() => new Date().toISOString()))(),
      draining: this.draining,
      codespaces,
      users,
      freePorts: this.options.freePorts(),
    };
  }

  private markDirty(): void {
    this.dirty = true;
    if (!this.writing) queueMicrotask(() => this.writing ?? this.startWrite());
  }

  private startWrite(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.version += 1;
    const doc = this.document();
    this.writing = writeFileAtomic(this.path, JSON.stringify(doc))
      .then(() => {
        this.lastWriteError = undefined;
      })
      .catch((error: unknown) => {
        // Disk trouble: keep the change pending and retry later, not in a tight loop.
        this.lastWriteError = error;
        this.dirty = true;
        setTimeout(() => this.writing ?? this.startWrite(), kvWriteRetryDelayMs).unref();
      })
      .finally(() => {
        this.writing = undefined;
        if (this.dirty && !this.lastWriteError) queueMicrotask(() => this.writing ?? this.startWrite());
      });
  }
}

function rank(state: KvCodespaceEntry['state']): number {
  return state === 'running' || state === 'creating' ? 1 : 0;
}
