import type { Histogram } from 'prom-client';

/**
 * HTTP request durations by method, route pattern and status, as a Prometheus histogram. Each
 * observation is three map lookups and three additions: prom-client's own Histogram hashes its label
 * set on every observation, which cost more than a microsecond per request (measured), on routes
 * that SDKs call too. The registry reads this like any other metric (`get`), at scrape time.
 */
interface Series {
  labels: { method: string; route: string; status_code: string };
  /** Observations per bucket (not cumulative); the last slot is beyond every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export class RouteHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Method → route → status → series: lookups with the strings the request already has, nothing built. */
  private readonly series = new Map<string, Map<string, Map<number, Series>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    let routes = this.series.get(method);
    if (routes === undefined) this.series.set(method, (routes = new Map()));
    let statuses = routes.get(route);
    if (statuses === undefined) routes.set(route, (statuses = new Map()));
    let series = statuses.get(status);
    if (series === undefined) {
      series = {
        labels: { method, route, status_code: String(status) },
        counts: new Array<number>(this.bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      statuses.set(status, series);
    }
    let slot = 0;
    while (slot < this.bounds.length && seconds > this.bounds[slot]!) slot++;
    series.counts[slot]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** What prom-client's registry formats: cumulative `_bucket`s with `le`, then `_sum` and `_count`. */
  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    const all = [...this.series.values()].flatMap((routes) => [...routes.values()].flatMap((s) => [...s.values()]));
    for (const { labels, counts, sum, count } of all) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { ...labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The registry's type for what it can register (it only calls `get` and reads the name). */
  asMetric(): Histogram {
    return this as unknown as Histogram;
  }
}
