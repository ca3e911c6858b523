/**
 * A log-bucketed latency histogram (2 % relative precision, 1 µs to ~60 s)
 * that child processes fill and the orchestrator merges: plain arrays, so it
 * crosses IPC as JSON.
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
export const BUCKETS = 920;

export interface HistogramData {
  counts: number[];
  count: number;
  max: number;
  min: number;
  sum: number;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  min = Number.POSITIVE_INFINITY;
  sum = 0;

  /** Records one value in microseconds (values below 1 µs land in the first bucket). */
  record(us: number): void {
    const v = us < 1 ? 1 : us;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.sum = 0;
  }

  toJSON(): HistogramData {
    return { counts: Array.from(this.counts), count: this.count, max: this.max, min: this.min, sum: this.sum };
  }
}

export function mergeHistograms(parts: HistogramData[]): HistogramData {
  const counts = new Array<number>(BUCKETS).fill(0);
  let count = 0;
  let max = 0;
  let min = Number.POSITIVE_INFINITY;
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < BUCKETS; i++) counts[i]! += p.counts[i] ?? 0;
    count += p.count;
    sum += p.sum;
    max = Math.max(max, p.max);
    if (p.count > 0) min = Math.min(min, p.min);
  }
  return { counts, count, max, min, sum };
}

/** Upper edge of bucket `i` in microseconds. */
export const bucketUpperUs = (i: number): number => GROWTH ** (i + 1);

/** The value at quantile `q` (0..1) in microseconds: a bucket's upper edge, capped at the true max. */
export function quantileUs(h: HistogramData, q: number): number {
  if (h.count === 0) return Number.NaN;
  const rank = Math.ceil(q * h.count);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += h.counts[i] ?? 0;
    if (seen >= rank) return Math.min(bucketUpperUs(i), h.max);
  }
  return h.max;
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: HistogramData): LatencySummary {
  return {
    samples: h.count,
    p50Ms: ms(quantileUs(h, 0.5)),
    p90Ms: ms(quantileUs(h, 0.9)),
    p99Ms: ms(quantileUs(h, 0.99)),
    p999Ms: ms(quantileUs(h, 0.999)),
    maxMs: ms(h.max),
    meanMs: h.count ? ms(h.sum / h.count) : Number.NaN,
  };
}

/** Points of the CDF, `[latencyMs, fraction ≤ it]`, for plotting. */
export function cdfPoints(h: HistogramData): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const c = h.counts[i] ?? 0;
    if (c === 0) continue;
    seen += c;
    points.push([Math.min(bucketUpperUs(i), h.max) / 1000, seen / h.count]);
  }
  return points;
}

/** The shared clock of every bench process: CLOCK_MONOTONIC in microseconds (system-wide on Linux). */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}
