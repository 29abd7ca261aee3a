import { CodeyardError } from '../model/errors.js';

export const portRangeStartDefault = 42_000;
export const portRangeEndDefault = 42_999;

export interface PortRange {
  /** First port of the pool, inclusive. */
  start: number;
  /** Last port of the pool, inclusive. */
  end: number;
}

/**
 * Host ports for workspaces, each held by exactly one codespace uid. Pure bookkeeping with no
 * I/O: the agent rebuilds it from container labels at start-up (`adopt`) and keeps it in step
 * with the runtime. A port is never handed out twice and always comes back on `release`.
 */
export class PortPool {
  private readonly byUid = new Map<string, number>();
  private readonly byPort = new Map<number, string>();
  /** Where the next search starts, so a just-released port is not reused at once (stale routes). */
  private cursor: number;

  constructor(readonly range: PortRange) {
    if (
      !Number.isInteger(range.start) ||
      !Number.isInteger(range.end) ||
      range.start < 1 ||
      range.end > 65_535
    ) {
      throw new RangeError(`invalid port range ${range.start}-${range.end}`);
    }
    if (range.end < range.start) throw new RangeError(`port range ${range.start}-${range.end} is empty`);
    this.cursor = range.start;
  }

  get size(): number {
    return this.range.end - this.range.start + 1;
  }

  get heldCount(): number {
    return this.byUid.size;
  }

  portOf(uid: string): number | undefined {
    return this.byUid.get(uid);
  }

  holderOf(port: number): string | undefined {
    return this.byPort.get(port);
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.range.start && port <= this.range.end;
  }

  /**
   * Gives `uid` a port: the one it already holds, else `preferred` when free, else the next
   * free one after the cursor. `avoid` lists ports found busy on the host by someone else.
   */
  allocate(uid: string, options: { preferred?: number; avoid?: ReadonlySet<number> } = {}): number {
    const held = this.byUid.get(uid);
    if (held !== undefined) return held;
    const avoid = options.avoid ?? new Set<number>();
    const preferred = options.preferred;
    if (preferred !== undefined && this.isFree(preferred) && !avoid.has(preferred))
      return this.take(uid, preferred);
    for (let i = 0; i < this.size; i += 1) {
      const port = this.range.start + ((this.cursor - this.range.start + i) % this.size);
      if (this.isFree(port) && !avoid.has(port)) {
        this.cursor = port + 1 > this.range.end ? this.range.start : port + 1;
        return this.take(uid, port);
      }
    }
    throw new CodeyardError('NODE_FULL', `no free host port in ${this.range.start}-${this.range.end}`);
  }

  /**
   * Records that `uid` holds `port` (rebuilding from labels). Returns false, changing nothing,
   * when the port is outside the range or held by another uid — the caller treats that
   * container as inconsistent.
   */
  adopt(uid: string, port: number): boolean {
    if (!this.contains(port)) return false;
    const holder = this.byPort.get(port);
    if (holder !== undefined) return holder === uid;
    if (this.byUid.has(uid)) return false;
    this.take(uid, port);
    return true;
  }

  /** Gives back the port of `uid`; releasing a uid that holds none is a no-op. */
  release(uid: string): number | undefined {
    const port = this.byUid.get(uid);
    if (port === undefined) return undefined;
    this.byUid.delete(uid);
    this.byPort.delete(port);
    return port;
  }

  freePorts(): number[] {
    const free: number[] = [];
    for (let port = this.range.start; port <= this.range.end; port += 1)
      if (!this.byPort.has(port)) free.push(port);
    return free;
  }

  held(): ReadonlyMap<string, number> {
    return this.byUid;
  }

  private isFree(port: number): boolean {
    return this.contains(port) && !this.byPort.has(port);
  }

  private take(uid: string, port: number): number {
    this.byUid.set(uid, port);
    this.byPort.set(port, uid);
    return port;
  }
}
