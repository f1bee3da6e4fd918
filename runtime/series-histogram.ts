/**
 * A prom-client Histogram with a cheap observation path for hot code (the HTTP shell observes
 * every request). prom-client's own `labels(...).observe(v)` hashes the label object, validates
 * it and copies bucket maps on every call (~0.35 us); here a series is looked up by its label
 * values in nested Maps once per call and counts land in a Float64Array. At scrape time the series
 * are exported in exactly the shape prom-client exports its own, so the exposed family (names,
 * label order, cumulative buckets, `+Inf`, `_sum`, `_count`) is unchanged.
 *
 * Use one path per label set: series observed through {@link SeriesHistogram.series} and through
 * prom-client's `labels()`/`observe()` are exported side by side, not merged.
 *
 * @example
 * const h = new SeriesHistogram({ name: "aragora_x_seconds", help: "x", labelNames: ["method", "route", "status"], buckets: [0.1, 1], registers: [registry] });
 * h.series("GET", "/api/health", 200).observe(0.004);
 * await registry.metrics(); // aragora_x_seconds_bucket{le="0.1",method="GET",route="/api/health",status="200"} 1 ...
 */
import type { HistogramConfiguration } from "prom-client";
// The class from its own module, not prom-client's index (see prom-client-collectors.d.ts).
import Histogram from "prom-client/lib/histogram.js";

/** One label set of a {@link SeriesHistogram}: per-bucket (not cumulative) counts, sum and count. */
export class HistogramSeries {
  /** counts[i] = observations in (bounds[i-1], bounds[i]]; the last slot holds those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Record one value (seconds, bytes ...). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar?: null;
}

interface ExportedMetric {
  name: string;
  help: string;
  type: string;
  values: ExportedValue[];
  aggregator: string;
}

/** What prom-client's Histogram does at scrape time; not in its typings, so named here. */
interface PromStringSource {
  getForPromString(): Promise<ExportedMetric>;
}

/**
 * A Histogram for exactly three labels, the shape of the HTTP request histogram
 * (method, route, status). The third label may be given as a number (a status code).
 */
export class SeriesHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: Float64Array;
  private readonly labelKeys: readonly [string, string, string];
  /** first label value -> second -> third (as given) -> series. */
  private tree = new Map<string, Map<string, Map<string | number, HistogramSeries>>>();

  constructor(config: HistogramConfiguration<T> & { labelNames: readonly [T, T, T]; buckets: number[] }) {
    super(config);
    this.bounds = Float64Array.from([...config.buckets].sort((a, b) => a - b));
    this.labelKeys = config.labelNames;
  }

  /** The series for one label set, made on first use (hot path: three Map lookups, no allocation). */
  series(first: string, second: string, third: string | number): HistogramSeries {
    let level1 = this.tree.get(first);
    if (level1 === undefined) {
      level1 = new Map();
      this.tree.set(first, level1);
    }
    let level2 = level1.get(second);
    if (level2 === undefined) {
      level2 = new Map();
      level1.set(second, level2);
    }
    let series = level2.get(third);
    if (series === undefined) {
      const [k1, k2, k3] = this.labelKeys;
      series = new HistogramSeries({ [k1]: first, [k2]: second, [k3]: String(third) }, this.bounds);
      level2.set(third, series);
    }
    return series;
  }

  /** Drop every series (prom-client's reset(): the family is exported empty until the next observation). */
  override reset(): void {
    super.reset();
    this.tree = new Map();
  }

  /** The registry's scrape path (and, via prom-client's get(), the JSON one): prom-client's own series, then ours in the same shape. */
  async getForPromString(): Promise<ExportedMetric> {
    const data = await (Histogram.prototype as unknown as PromStringSource).getForPromString.call(this);
    for (const level1 of this.tree.values()) {
      for (const level2 of level1.values()) {
        for (const s of level2.values()) exportSeries(data, s, this.bounds);
      }
    }
    return data;
  }
}

/** Append one series to a scrape's values, as prom-client exports its own (cumulative buckets, +Inf, sum, count). */
function exportSeries(data: ExportedMetric, s: HistogramSeries, bounds: Float64Array): void {
  const bucketName = `${data.name}_bucket`;
  let acc = 0;
  for (let i = 0; i < bounds.length; i++) {
    acc += s.counts[i] as number;
    data.values.push({
      labels: { le: bounds[i] as number },
      sharedLabels: s.labels,
      value: acc,
      metricName: bucketName,
      exemplar: null,
    });
  }
  data.values.push(
    { labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucketName, exemplar: null },
    { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${data.name}_sum` },
    { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${data.name}_count` },
  );
}

/**
 * A Histogram without labels with the cheap observation path of {@link SeriesHistogram}:
 * `series.observe(v)` is a few array writes where prom-client's `observe(v)` costs ~0.2 us.
 * Observe through `series` only (not prom-client's observe()).
 *
 * @example
 * const h = new UnlabelledHistogram({ name: "aragora_check_seconds", help: "x", buckets: [1e-6, 1e-3], registers: [registry] });
 * h.series.observe(2e-7);
 */
export class UnlabelledHistogram extends Histogram {
  readonly series: HistogramSeries;
  private readonly bounds: Float64Array;

  constructor(config: HistogramConfiguration<string> & { buckets: number[] }) {
    super({ ...config, labelNames: [] });
    this.bounds = Float64Array.from([...config.buckets].sort((a, b) => a - b));
    this.series = new HistogramSeries({}, this.bounds);
  }

  override reset(): void {
    super.reset();
    // Called by prom-client's constructor too, before the series exists.
    if (this.series === undefined) return;
    this.series.counts.fill(0);
    this.series.sum = 0;
    this.series.count = 0;
  }

  async getForPromString(): Promise<ExportedMetric> {
    const data = await (Histogram.prototype as unknown as PromStringSource).getForPromString.call(this);
    // prom-client exports an unlabelled histogram's empty series itself: ours replaces it.
    data.values = [];
    exportSeries(data, this.series, this.bounds);
    return data;
  }
}
