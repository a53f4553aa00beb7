// Metrics (docs/architecture.md: "Prometheus text at /metrics"): the service's own metrics on a registry
// port (ports/metrics.ts, prom-client behind it), a RunObserver for runs, and a destination-definition
// decorator for Braze traffic. Metrics are per process: Prometheus scrapes each process and sums.
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
import type { CounterMetric, HistogramMetric, MetricsRegistry } from '../ports/metrics.ts';
import type { RunFinishedEvent, RunObserver } from './run-events.ts';

// ---------------------------------------------------------------------------------------------------------
// The service's metrics

export const REALTIME_LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface ServiceMetrics {
  readonly registry: MetricsRegistry;
  readonly runs: CounterMetric<'status'>;
  readonly identifiersSent: CounterMetric<'operation'>;
  readonly brazeResponses: CounterMetric<'status'>;
  readonly brazeRetries: CounterMetric;
  readonly realtimeLag: HistogramMetric;
  readonly runDuration: HistogramMetric<'status'>;
}

/** The series /metrics has always shown (test/unit/metrics.test.ts lists them): names, help and labels stay. */
export function createServiceMetrics(registry: MetricsRegistry): ServiceMetrics {
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

/** For the real-time path: the lag from a membership change to Braze's acknowledgement, in seconds. */
export function observeRealtimeLag(seconds: number, metrics: ServiceMetrics): void {
  if (Number.isFinite(seconds)) metrics.realtimeLag.observe(Math.max(0, seconds));
}

export class MetricsRunObserver implements RunObserver {
  constructor(private readonly metrics: ServiceMetrics) {}

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
export function instrumentDefinition(inner: DestinationDefinition, metrics: ServiceMetrics): DestinationDefinition {
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
  // Everything but the two calls is the inner definition's own, inherited rather than listed, so a member
  // added to DestinationDefinition cannot be dropped here.
  const wrapped: DestinationDefinition = Object.create(inner);
  return Object.assign(wrapped, {
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
  });
}
