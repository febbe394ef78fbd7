// A log-bucketed latency histogram (1 % relative precision) that merges across processes as JSON.

const UNIT_MS = 0.001; // 1 µs
const LOG_BASE = Math.log(1.01);

export interface HistogramData {
  readonly buckets: Record<string, number>;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  /** Values below zero (clock skew between processes), recorded as zero. */
  readonly negative: number;
}

export class Histogram {
  private readonly buckets = new Map<number, number>();
  count = 0;
  min = Infinity;
  max = 0;
  sum = 0;
  negative = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < 0) {
      this.negative++;
      ms = 0;
    }
    const index = ms <= UNIT_MS ? 0 : Math.ceil(Math.log(ms / UNIT_MS) / LOG_BASE);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(data: HistogramData): this {
    for (const [key, n] of Object.entries(data.buckets)) this.buckets.set(Number(key), (this.buckets.get(Number(key)) ?? 0) + n);
    this.count += data.count;
    this.sum += data.sum;
    this.negative += data.negative;
    if (data.count > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
    return this;
  }

  /** The p-th percentile in ms (upper edge of its bucket, never above the maximum seen). */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index)!;
      if (seen >= rank) return Math.min(this.max, index === 0 ? UNIT_MS : UNIT_MS * Math.exp(index * LOG_BASE));
    }
    return this.max;
  }

  get mean(): number | null {
    return this.count === 0 ? null : this.sum / this.count;
  }

  toJSON(): HistogramData {
    return {
      buckets: Object.fromEntries(this.buckets),
      count: this.count,
      min: this.count ? this.min : 0,
      max: this.max,
      sum: this.sum,
      negative: this.negative,
    };
  }

  static from(...data: readonly HistogramData[]): Histogram {
    const histogram = new Histogram();
    for (const d of data) histogram.merge(d);
    return histogram;
  }
}
