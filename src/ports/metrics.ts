// What the app needs of a metrics library: counters and histograms with fixed label names, and the text
// exposition Prometheus scrapes. adapters/metrics/prom-registry.ts implements it with prom-client.

/** Every declared label, and no other; none for a metric declared without labels. */
export type MetricLabels<L extends string> = [L] extends [never] ? Record<string, never> : Readonly<Record<L, string>>;

export interface CounterMetric<L extends string = never> {
  inc(...args: [L] extends [never] ? [value?: number] : [labels: MetricLabels<L>, value?: number]): void;
}

export interface HistogramMetric<L extends string = never> {
  observe(...args: [L] extends [never] ? [value: number] : [labels: MetricLabels<L>, value: number]): void;
}

export interface MetricsRegistry {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): CounterMetric<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly L[],
  ): HistogramMetric<L>;
  /** The Content-Type of `render()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** Every metric of this registry, process and event-loop ones included, as Prometheus text. */
  render(): Promise<string>;
}
