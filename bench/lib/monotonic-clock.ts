/**
 * Microseconds on CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine shares:
 * a timestamp taken by the writer process can be subtracted from one taken by a watcher process.
 * (`performance.now()` is relative to each process's own start, so it cannot.) Values stay far
 * below 2^53, so a plain number holds them exactly.
 */
export function monotonicMicros(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1_000_000 + Math.floor(nanoseconds / 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
