// The cycle latency histogram of GET /metrics, fed once per cycle. prom-client's
// own Histogram.observe converts and validates labels, hashes them and
// allocates on every call; at 5k cycles/s that was ~8% of the main thread's
// CPU (docs/CPU.md). Here a cycle costs a short scan of the bounds and one
// increment; the Prometheus values are built at scrape time, in the shape
// prom-client's Histogram gives (cumulative `le` buckets, +Inf, _sum, _count).
// Registered as a prom-client metric: the registry only needs `name` and `get()`.

export interface PromValue { labels: Record<string, string | number>; value: number; metricName: string }

export class CycleLatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly boundsUs: Float64Array;
  private readonly counts: Float64Array;
  private sumUs = 0;
  private count = 0;

  /** `buckets` in seconds, ascending. */
  constructor(readonly name: string, readonly help: string, private readonly buckets: number[]) {
    this.boundsUs = Float64Array.from(buckets, (b) => b * 1e6);
    this.counts = new Float64Array(buckets.length + 1); // the last one is +Inf
  }

  /** One cycle's latency, µs. */
  observeUs(us: number): void {
    const b = this.boundsUs;
    let i = 0;
    while (i < b.length && us > b[i]) i++;
    this.counts[i]++;
    this.sumUs += us;
    this.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] } {
    const values: PromValue[] = [];
    let acc = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      acc += this.counts[i];
      values.push({ labels: { le: this.buckets[i] }, value: acc, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sumUs / 1e6, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
