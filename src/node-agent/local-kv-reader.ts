import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  localKvFileName,
  parseLocalKv,
  routeIn,
  type LocalKvDocument,
  type Route,
} from './local-kv-format.js';

/** The stat fallback: fs.watch can miss events (network filesystems, renames on some kernels). */
export const kvReaderPollIntervalMsDefault = 1_000;

export interface LocalKvReaderOptions {
  /** The node data dir the agent writes `kv.json` into. */
  dataDir: string;
  pollIntervalMs?: number;
  /** Called after each successful reload. */
  onChange?: (doc: LocalKvDocument) => void;
}

/**
 * The node proxy's view of the local KV. Loads `<dataDir>/kv.json` and reloads it when it
 * changes (fs.watch on the directory, since the agent replaces the file by rename, plus a
 * cheap periodic stat). A damaged or half-seen file never replaces the last good one.
 */
export class LocalKvReader {
  private doc: LocalKvDocument | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStamp = '';
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private readonly path: string;

  constructor(private readonly options: LocalKvReaderOptions) {
    this.path = join(options.dataDir, localKvFileName);
  }

  async start(): Promise<void> {
    await this.reload();
    try {
      this.watcher = watch(this.options.dataDir, (_event, file) => {
        if (file === null || file === localKvFileName) void this.reload();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No directory yet (agent not started): the stat poll below picks the file up later.
    }
    this.timer = setInterval(
      () => void this.reload(),
      this.options.pollIntervalMs ?? kvReaderPollIntervalMsDefault,
    );
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  /** Version of the loaded document; 0 before any. */
  get version(): number {
    return this.doc?.version ?? 0;
  }

  document(): LocalKvDocument | undefined {
    return this.doc;
  }

  routeFor(codespaceName: string): Route | undefined {
    return routeIn(this.doc, codespaceName);
  }

  /** Re-reads the file if its inode, size or mtime changed; concurrent calls collapse into one more pass. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = undefined;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    try {
      const info = await stat(this.path);
      const stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (stamp === this.lastStamp) return;
      const doc = parseLocalKv(await readFile(this.path, 'utf8'));
      if (!doc || (this.doc && doc.version < this.doc.version && doc.nodeName === this.doc.nodeName)) return;
      this.lastStamp = stamp;
      this.doc = doc;
      this.options.onChange?.(doc);
    } catch {
      // Missing or unreadable: keep the last good document.
    }
  }
}
