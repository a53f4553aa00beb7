// Metrics (docs/architecture.md: "Prometheus text at /metrics"): a tiny registry of counters, gauges and
// histograms rendered in the Prometheus text exposition format 0.0.4, with no external package; the
// service's own metrics; a RunObserver for runs; and a destination-definition decorator for Braze traffic.
// Metrics are per process: Prometheus scrapes each process and sums.
import type { Run } from '../domain/model.ts';
import {
  type Audience,
  type CallOptions,
  type CallStats,
  DeliveryError,
  type DestinationDefinition,
  type DestinationTarget,
  type MembershipChange,
} from '../ports/destination.ts';
import type { RunFinishedEvent, RunObserver } from './run-events.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labels<L extends string> = [L] extends [never] ? Record<string, never> : Readonly<Record<L, string>>;

/** Label values escape backslash, double quote and newline; HELP text escapes backslash and newline. */
export const escapeLabelValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Metric {
  readonly name: string;
  render(): string[];
}

abstract class Labelled<L extends string> {
  protected readonly series = new Map<string, { labels: readonly (readonly [string, string])[] }>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly L[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name "${name}"`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le')
        throw new Error(`invalid label name "${l}" on ${name}`);
    }
  }

  /** A stable key for a label set; every declared label must be given, and no other. */
  protected keyOf(labels: Labels<L> | undefined): { key: string; pairs: (readonly [string, string])[] } {
    const given = (labels ?? {}) as Record<string, string>;
    for (const k of Object.keys(given))
      if (!(this.labelNames as readonly string[]).includes(k)) throw new Error(`${this.name} has no label "${k}"`);
    const pairs = this.labelNames.map((l) => {
      const v = given[l];
      if (v === undefined) throw new Error(`${this.name} needs label "${l}"`);
      return [l, String(v)] as const;
    });
    return { key: JSON.stringify(pairs), pairs };
  }

  protected static labelText(pairs: readonly (readonly [string, string])[], extra?: readonly [string, string]): string {
    const all = extra ? [...pairs, extra] : pairs;
    return all.length === 0 ? '' : `{${all.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
  }

  protected headerLines(type: string): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${type}`];
  }
}

export class Counter<L extends string = never> extends Labelled<L> implements Metric {
  private readonly values = new Map<string, number>();

  inc(...args: [L] extends [never] ? [value?: number] : [labels: Labels<L>, value?: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]]) as [
      Labels<L> | undefined,
      number | undefined,
    ];
    const by = value ?? 1;
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    const { key, pairs } = this.keyOf(labels);
    if (!this.series.has(key)) this.series.set(key, { labels: pairs });
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(labels?: Labels<L>): number {
    return this.values.get(this.keyOf(labels).key) ?? 0;
  }

  render(): string[] {
    const lines = this.headerLines('counter');
    for (const [key, s] of this.series)
      lines.push(`${this.name}${Labelled.labelText(s.labels)} ${formatValue(this.values.get(key) ?? 0)}`);
    return lines;
  }
}

export class Gauge<L extends string = never> extends Labelled<L> implements Metric {
  private readonly values = new Map<string, number>();

  set(labels: Labels<L>, value: number): void {
    const { key, pairs } = this.keyOf(labels);
    if (!this.series.has(key)) this.series.set(key, { labels: pairs });
    this.values.set(key, value);
  }

  add(labels: Labels<L>, by: number): void {
    this.set(labels, this.get(labels) + by);
  }

  get(labels?: Labels<L>): number {
    return this.values.get(this.keyOf(labels).key) ?? 0;
  }

  render(): string[] {
    const lines = this.headerLines('gauge');
    for (const [key, s] of this.series)
      lines.push(`${this.name}${Labelled.labelText(s.labels)} ${formatValue(this.values.get(key) ?? 0)}`);
    return lines;
  }
}

export class Histogram<L extends string = never> extends Labelled<L> implements Metric {
  readonly buckets: readonly number[];
  private readonly data = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly L[]) {
    super(name, help, labelNames);
    const sorted = [...new Set(buckets)].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
    if (sorted.length === 0) throw new Error(`${name}: a histogram needs at least one finite bucket`);
    this.buckets = sorted;
  }

  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]]) as [
      Labels<L> | undefined,
      number,
    ];
    if (Number.isNaN(value)) return;
    const { key, pairs } = this.keyOf(labels);
    let d = this.data.get(key);
    if (!d) {
      d = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.data.set(key, d);
      this.series.set(key, { labels: pairs });
    }
    // Each bucket counts observations ≤ its bound (cumulative in the output).
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) d.counts[i] = (d.counts[i] ?? 0) + 1;
    d.sum += value;
    d.count += 1;
  }

  snapshot(labels?: Labels<L>): { count: number; sum: number } {
    const d = this.data.get(this.keyOf(labels).key);
    return { count: d?.count ?? 0, sum: d?.sum ?? 0 };
  }

  render(): string[] {
    const lines = this.headerLines('histogram');
    for (const [key, s] of this.series) {
      const d = this.data.get(key);
      if (!d) continue;
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += d.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${Labelled.labelText(s.labels, ['le', formatValue(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${Labelled.labelText(s.labels, ['le', '+Inf'])} ${d.count}`);
      lines.push(`${this.name}_sum${Labelled.labelText(s.labels)} ${formatValue(d.sum)}`);
      lines.push(`${this.name}_count${Labelled.labelText(s.labels)} ${d.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.add(new Counter<L>(name, help, labelNames));
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.add(new Gauge<L>(name, help, labelNames));
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return this.add(new Histogram<L>(name, help, buckets, labelNames));
  }

  /** The text exposition format 0.0.4, metrics in registration order, ending with a newline. */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.metrics.values()) lines.push(...metric.render());
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The service's metrics

export const REALTIME_LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface ServiceMetrics {
  readonly registry: MetricsRegistry;
  readonly runs: Counter<'status'>;
  readonly identifiersSent: Counter<'operation'>;
  readonly brazeResponses: Counter<'status'>;
  readonly brazeRetries: Counter;
  readonly realtimeLag: Histogram;
  readonly runDuration: Histogram<'status'>;
}

export function createServiceMetrics(registry = new MetricsRegistry()): ServiceMetrics {
  const m: ServiceMetrics = {
    registry,
    runs: registry.counter('cohort_sync_runs_total', 'Sync runs finished, by final status.', ['status']),
    identifiersSent: registry.counter(
      'cohort_sync_identifiers_sent_total',
      'Identifiers Braze acknowledged, by operation (add or remove).',
      ['operation'],
    ),
    brazeResponses: registry.counter(
      'cohort_sync_braze_responses_total',
      'HTTP answers from Braze by status code ("none" when no answer came: timeout or network error).',
      ['status'],
    ),
    brazeRetries: registry.counter(
      'cohort_sync_braze_retries_total',
      'Braze requests repeated after a 423/429/5xx answer or a network fault.',
    ),
    realtimeLag: registry.histogram(
      'cohort_sync_realtime_lag_seconds',
      'Seconds from a membership change to Braze acknowledging it, for real-time syncs.',
      REALTIME_LAG_BUCKETS,
    ),
    runDuration: registry.histogram(
      'cohort_sync_run_duration_seconds',
      'Duration of finished runs from start to finish, by status.',
      [1, 5, 15, 60, 300, 900, 3600, 14_400],
      ['status'],
    ),
  };
  // Known label values start at 0, so rate() works from the first scrape.
  for (const status of ['succeeded', 'failed', 'cancelled']) m.runs.inc({ status }, 0);
  for (const operation of ['add', 'remove']) m.identifiersSent.inc({ operation }, 0);
  m.brazeRetries.inc(0);
  return m;
}

/** The process-wide metrics the service exposes at /metrics. Tests make their own with createServiceMetrics(). */
export const defaultMetrics: ServiceMetrics = createServiceMetrics();

/** For the real-time path: the lag from a membership change to Braze's acknowledgement, in seconds. */
export function observeRealtimeLag(seconds: number, metrics: ServiceMetrics = defaultMetrics): void {
  if (Number.isFinite(seconds)) metrics.realtimeLag.observe(Math.max(0, seconds));
}

export class MetricsRunObserver implements RunObserver {
  constructor(private readonly metrics: ServiceMetrics = defaultMetrics) {}

  runFinished({ run }: RunFinishedEvent): void {
    this.metrics.runs.inc({ status: run.status });
    const seconds = runSeconds(run);
    if (seconds !== null) this.metrics.runDuration.observe({ status: run.status }, seconds);
    // A real-time run is queued by the first change it carries, so queued → finished bounds that change's lag.
    if (run.mode === 'incremental' && run.status === 'succeeded' && run.finishedAt) {
      observeRealtimeLag((Date.parse(run.finishedAt) - Date.parse(run.queuedAt)) / 1000, this.metrics);
    }
  }
}

function runSeconds(run: Run): number | null {
  if (!run.startedAt || !run.finishedAt) return null;
  const ms = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

/**
 * Wraps a destination definition to count answers, retries and delivered identifiers, without the adapter
 * knowing about metrics. The caller's own onRequest (the run's request log) still gets every entry.
 */
export function instrumentDefinition(
  inner: DestinationDefinition,
  metrics: ServiceMetrics = defaultMetrics,
): DestinationDefinition {
  const withCounting = (opts: CallOptions | undefined): CallOptions => ({
    ...opts,
    onRequest: (entry) => {
      metrics.brazeResponses.inc({ status: entry.status === null ? 'none' : String(entry.status) });
      opts?.onRequest?.(entry);
    },
  });
  const counted = async <T extends CallStats>(call: Promise<T>): Promise<T> => {
    try {
      const stats = await call;
      metrics.brazeRetries.inc(stats.retries);
      return stats;
    } catch (error) {
      if (error instanceof DeliveryError) metrics.brazeRetries.inc(error.stats.retries);
      throw error;
    }
  };
  const ensure = inner.ensureAudience?.bind(inner);
  return {
    mode: inner.mode,
    product: inner.product,
    accepts: inner.accepts,
    batch: inner.batch,
    budget: inner.budget,
    reportsMatches: inner.reportsMatches,
    refusal: (kind) => inner.refusal(kind),
    budgetKey: (target) => inner.budgetKey(target),
    failureCode: (kind) => inner.failureCode(kind),
    remedy: (code, about) => inner.remedy(code, about),
    segmentFilter: (audience) => inner.segmentFilter(audience),
    explainRule: (id, userId) => inner.explainRule(id, userId),
    ...(ensure && {
      ensureAudience: (target: DestinationTarget, audience: Audience, opts?: CallOptions) =>
        counted(ensure(target, audience, withCounting(opts))),
    }),
    async sendBatch(target: DestinationTarget, audience: Audience, change: MembershipChange, opts?: CallOptions) {
      const result = await counted(inner.sendBatch(target, audience, change, withCounting(opts)));
      metrics.identifiersSent.inc({ operation: 'add' }, change.add.length);
      metrics.identifiersSent.inc({ operation: 'remove' }, change.remove.length);
      return result;
    },
    testConnection: (target) => inner.testConnection(target),
  };
}
