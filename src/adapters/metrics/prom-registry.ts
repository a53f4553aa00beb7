// The metrics port on prom-client (docs/architecture.md: "Prometheus text at /metrics"). Each registry is its
// own prom-client Registry, never the global one, so one process (a test) may build several services, each
// with its own counts. collectDefaultMetrics adds the process_* and nodejs_* series (CPU, memory, file
// descriptors, event-loop lag, GC) to each.
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { CounterMetric, HistogramMetric, MetricLabels, MetricsRegistry } from '../../ports/metrics.ts';

export class PromMetricsRegistry implements MetricsRegistry {
  private readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;

  /** `processMetrics: false` leaves out the default process and Node.js metrics (for exact-output tests). */
  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): CounterMetric<L> {
    const counter = new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
    return {
      inc: (...args: unknown[]) => {
        if (labelNames.length === 0) counter.inc((args[0] as number | undefined) ?? 1);
        else counter.inc(checked(name, labelNames, args[0]), (args[1] as number | undefined) ?? 1);
      },
    };
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ): HistogramMetric<L> {
    // prom-client counts into the first bucket whose bound is ≥ the value, so bounds must be sorted.
    const bounds = [...new Set(buckets)].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
    if (bounds.length === 0) throw new Error(`${name}: a histogram needs at least one finite bucket`);
    const histogram = new Histogram({
      name,
      help,
      buckets: bounds,
      labelNames: [...labelNames],
      registers: [this.registry],
    });
    return {
      observe: (...args: unknown[]) => {
        const value = (labelNames.length === 0 ? args[0] : args[1]) as number;
        if (Number.isNaN(value)) return;
        if (labelNames.length === 0) histogram.observe(value);
        else histogram.observe(checked(name, labelNames, args[0]), value);
      },
    };
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** prom-client accepts a missing label silently (the series then lacks it); a missing label is a bug here. */
function checked<L extends string>(name: string, labelNames: readonly L[], labels: unknown): Record<L, string> {
  const given = (labels ?? {}) as MetricLabels<L> & Record<string, string>;
  for (const key of Object.keys(given))
    if (!(labelNames as readonly string[]).includes(key)) throw new Error(`${name} has no label "${key}"`);
  for (const l of labelNames) if (given[l] === undefined) throw new Error(`${name} needs label "${l}"`);
  return given;
}
