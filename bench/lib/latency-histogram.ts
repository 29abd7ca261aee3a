/**
 * Latencies in fixed 10 µs buckets up to `histogramRangeMicros`, plus an overflow count and the
 * exact maximum: recording is one array increment (cheap enough for a million deliveries a
 * second), percentiles are exact to one bucket, and histograms from several processes or rounds
 * merge by adding counts.
 */
export const histogramBucketMicros = 10;
export const histogramRangeMicros = 5_000_000;
const bucketCount = histogramRangeMicros / histogramBucketMicros;

/** What crosses process boundaries: non-empty buckets only. */
export interface HistogramSnapshot {
  buckets: [index: number, count: number][];
  overflow: number;
  count: number;
  maxMicros: number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(bucketCount);
  private overflow = 0;
  private total = 0;
  private maxMicros = 0;

  record(micros: number): void {
    const clamped = micros < 0 ? 0 : micros;
    const index = Math.floor(clamped / histogramBucketMicros);
    if (index < bucketCount) this.counts[index] = this.counts[index]! + 1;
    else this.overflow += 1;
    this.total += 1;
    if (clamped > this.maxMicros) this.maxMicros = clamped;
  }

  get count(): number {
    return this.total;
  }

  snapshot(): HistogramSnapshot {
    const buckets: [number, number][] = [];
    for (let index = 0; index < bucketCount; index += 1) {
      const count = this.counts[index]!;
      if (count > 0) buckets.push([index, count]);
    }
    return { buckets, overflow: this.overflow, count: this.total, maxMicros: this.maxMicros };
  }

  add(snapshot: HistogramSnapshot): void {
    for (const [index, count] of snapshot.buckets) this.counts[index] = this.counts[index]! + count;
    this.overflow += snapshot.overflow;
    this.total += snapshot.count;
    this.maxMicros = Math.max(this.maxMicros, snapshot.maxMicros);
  }

  /** The upper edge of the bucket holding the q-quantile, in ms (the max if it overflowed). */
  quantileMs(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let index = 0; index < bucketCount; index += 1) {
      seen += this.counts[index]!;
      if (seen >= rank) return Math.min((index + 1) * histogramBucketMicros, this.maxMicros) / 1000;
    }
    return this.maxMicros / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50Ms: this.quantileMs(0.5),
      p90Ms: this.quantileMs(0.9),
      p99Ms: this.quantileMs(0.99),
      p999Ms: this.quantileMs(0.999),
      maxMs: this.maxMicros / 1000,
    };
  }

  static from(snapshots: readonly HistogramSnapshot[]): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const snapshot of snapshots) histogram.add(snapshot);
    return histogram;
  }
}
