import type { WatchEvent } from '../model/events.js';

/** Taken entries are released in bulk once this many have piled up at the head. */
const compactAfterCount = 1024;

/**
 * The recent live events of one store, indexed by resourceVersion (versions are dense), shared
 * by every watcher: a delivery costs a watcher one array read, not a copy into a queue of its
 * own. The hub trims it to what the slowest watcher still needs, and cuts off watchers that fall
 * more than their `bufferLimit` behind, so it stays bounded.
 */
export class LiveLog {
  private entries: WatchEvent[] = [];
  private head = 0;
  /** The resourceVersion of `entries[head]` (or of the next event, when empty). */
  private firstVersion = 1;

  /** The event with this version, if it is held. */
  at(resourceVersion: number): WatchEvent | undefined {
    const index = this.head + (resourceVersion - this.firstVersion);
    return index >= this.head && index < this.entries.length ? this.entries[index] : undefined;
  }

  /** Appends a contiguous batch that follows what is held. */
  append(events: readonly WatchEvent[]): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
      this.firstVersion = events[0]!.resourceVersion;
    }
    for (const event of events) {
      this.entries.push(event);
    }
  }

  /** Forgets every event older than `resourceVersion`. */
  dropBefore(resourceVersion: number): void {
    const dropCount = Math.min(resourceVersion - this.firstVersion, this.entries.length - this.head);
    if (dropCount <= 0) {
      return;
    }
    this.head += dropCount;
    this.firstVersion += dropCount;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head >= compactAfterCount && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Forgets everything; the next event held will be `nextVersion`. */
  reset(nextVersion: number): void {
    this.entries = [];
    this.head = 0;
    this.firstVersion = nextVersion;
  }

  get size(): number {
    return this.entries.length - this.head;
  }
}
