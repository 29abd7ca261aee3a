import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * What became of a chunk handed to `DirectWriter.write`:
 * - `written`: the kernel took all of it; its memory may be reused at once;
 * - `queued`: it waits in the socket's queue, so its memory must stay untouched, but the sink
 *   can take more;
 * - `full`: it waits and the sink is full: stop reading the source until `onDrain`.
 */
export type WriteOutcome = 'written' | 'queued' | 'full';

type WriteHook = (chunk: Buffer | string, encoding: string, done: (error?: Error | null) => void) => void;

/**
 * Writes a relay's chunks to one socket. On a plain TCP socket with nothing queued, a chunk
 * goes straight to the socket's own `_write` (one `write(2)`), skipping the Writable state
 * machine around it: its bookkeeping and the nextTick it schedules after every finished write
 * were about an eighth of the relay's CPU per WebSocket message (docs/benchmarks.md). Whenever
 * anything is queued, or for any other kind of stream (TLS), chunks take the ordinary
 * `write()`, which queues behind what is pending, so order always holds.
 */
export class DirectWriter {
  private readonly direct: WriteHook | undefined;
  /** Direct writes the kernel has not finished taking. */
  private inFlight = 0;
  /** True while inside `direct`, to tell a finished-at-once write from a later completion. */
  private writing = false;
  /** A direct write failed: the sink takes nothing more. */
  private failed = false;

  constructor(
    private readonly sink: Duplex,
    /** The sink can take more after a `full` outcome. */
    private readonly onDrain: () => void,
    /** A direct write failed; the sink is unusable. */
    private readonly onError: (error: Error) => void,
  ) {
    this.direct = isPlainTcp(sink) ? (sink as unknown as { _write: WriteHook })._write.bind(sink) : undefined;
    sink.on('drain', onDrain);
  }

  /**
   * `borrowed`: the chunk lies in memory the caller will reuse as soon as this returns, unless
   * the outcome is `full` (the caller then stops reading into it until `onDrain`). A borrowed
   * chunk that has to wait in the queue while the caller keeps reading is copied first.
   */
  write(chunk: Buffer, borrowed = false): WriteOutcome {
    if (this.failed) return 'full';
    if (!this.canWriteDirectly()) {
      // A write() that returns true may still hold the chunk, hence the copy.
      return this.sink.write(borrowed ? Buffer.from(chunk) : chunk) ? 'queued' : 'full';
    }
    return this.writeDirectly(chunk, 'buffer');
  }

  /** Writes a string as latin1 (one byte per char: what Node's HTTP parser read), the same way. */
  writeLatin1(text: string): WriteOutcome {
    if (this.failed) return 'full';
    if (!this.canWriteDirectly()) return this.sink.write(text, 'latin1') ? 'queued' : 'full';
    return this.writeDirectly(text, 'latin1');
  }

  private canWriteDirectly(): boolean {
    const { sink } = this;
    return (
      this.direct !== undefined &&
      this.inFlight === 0 &&
      sink.writableLength === 0 &&
      !(sink as Socket).connecting &&
      !sink.writableEnded &&
      !sink.destroyed
    );
  }

  private writeDirectly(chunk: Buffer | string, encoding: string): WriteOutcome {
    this.inFlight += 1;
    this.writing = true;
    this.direct!(chunk, encoding, this.afterDirectWrite);
    this.writing = false;
    // Unfinished, the kernel write still points into the chunk: `full` keeps the caller off it.
    return this.inFlight === 0 && !this.failed ? 'written' : 'full';
  }

  private readonly afterDirectWrite = (error?: Error | null): void => {
    this.inFlight -= 1;
    if (error) {
      this.failed = true;
      this.onError(error);
    } else if (!this.writing && this.inFlight === 0) {
      this.onDrain();
    }
  };
}

function isPlainTcp(stream: Duplex): boolean {
  const handle = (stream as unknown as { _handle?: { constructor: { name: string } } | null })._handle;
  return (
    stream instanceof Socket &&
    handle?.constructor.name === 'TCP' &&
    typeof (stream as unknown as { _write?: unknown })._write === 'function'
  );
}
