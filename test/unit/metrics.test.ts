// The metrics registry's Prometheus text format, the service metrics, and the Destination decorator
// counting real Braze traffic (the real client against the sandbox over HTTP, with injected faults).
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrazeHttp, CohortImportDefinition, InMemoryRateLimiter } from '../../src/adapters/braze/index.ts';
import { PromMetricsRegistry } from '../../src/adapters/metrics/prom-registry.ts';
import {
  createServiceMetrics,
  instrumentDefinition,
  MetricsRunObserver,
  observeRealtimeLag,
} from '../../src/app/metrics.ts';
import type { Run } from '../../src/domain/model.ts';
import { metricsRoutes } from '../../src/entry/http/routes/metrics.ts';
import {
  type CallOptions,
  DeliveryError,
  type MembershipChange,
  type RequestLogEntry,
} from '../../src/ports/destination.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import { expectServiceSeries, expectWellFormed } from '../support/metrics-series.ts';

const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** The exposition of a registry without the process metrics, so whole outputs can be compared. */
const bare = () => new PromMetricsRegistry({ processMetrics: false });

describe('the prom-client registry', () => {
  it('renders counters with HELP, TYPE and one line per label set, escaping values', async () => {
    const r = bare();
    const c = r.counter('jobs_total', 'Jobs done.\nBy "kind" \\ path.', ['kind', 'path']);
    c.inc({ kind: 'a', path: '/x' });
    c.inc({ kind: 'a', path: '/x' }, 2.5);
    c.inc({ kind: 'quote"back\\slash\nnewline', path: '' });
    r.counter('plain_total', 'No labels.').inc();
    const text = await r.render();
    expect(text).toBe(
      [
        '# HELP jobs_total Jobs done.\\nBy "kind" \\\\ path.',
        '# TYPE jobs_total counter',
        'jobs_total{kind="a",path="/x"} 3.5',
        'jobs_total{kind="quote\\"back\\\\slash\\nnewline",path=""} 1',
        '',
        '# HELP plain_total No labels.',
        '# TYPE plain_total counter',
        'plain_total 1',
        '',
      ].join('\n'),
    );
    expectWellFormed(text);
  });

  it('renders histograms with sorted cumulative buckets, +Inf, _sum and _count, and ignores NaN', async () => {
    const r = bare();
    const h = r.histogram('lat_seconds', 'Latency.', [1, 0.1, 5, 1], ['route']);
    for (const v of [0.05, 0.1, 0.7, 3, 9, Number.NaN]) h.observe({ route: 'a' }, v);
    const text = await r.render();
    expect(text).toBe(
      [
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{le="0.1",route="a"} 2',
        'lat_seconds_bucket{le="1",route="a"} 3',
        'lat_seconds_bucket{le="5",route="a"} 4',
        'lat_seconds_bucket{le="+Inf",route="a"} 5',
        'lat_seconds_sum{route="a"} 12.85',
        'lat_seconds_count{route="a"} 5',
        '',
      ].join('\n'),
    );
    expectWellFormed(text);
  });

  it('refuses what would make an invalid exposition', () => {
    const r = bare();
    expect(() => r.counter('bad-name', 'x')).toThrow(/Invalid metric name/);
    expect(() => r.counter('ok_total', 'x', ['bad-label'])).toThrow(/Invalid label name/);
    expect(() => r.histogram('h', 'x', [1], ['le'])).toThrow(/reserved label/);
    expect(() => r.histogram('h2', 'x', [Number.POSITIVE_INFINITY])).toThrow(/at least one finite bucket/);
    const c = r.counter('c_total', 'x', ['a']);
    expect(() => r.counter('c_total', 'again')).toThrow(/already been registered/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/not possible to decrease a counter/);
    expect(() => c.inc({} as { a: string })).toThrow(/needs label "a"/);
    expect(() => c.inc({ a: 'x', b: 'y' } as unknown as { a: string })).toThrow(/has no label "b"/);
  });

  it('keeps registries apart: two services in one process count on their own', async () => {
    const a = createServiceMetrics(new PromMetricsRegistry());
    const b = createServiceMetrics(new PromMetricsRegistry());
    a.runs.inc({ status: 'failed' }, 2);
    expect(sample(await a.registry.render(), 'cohort_sync_runs_total{status="failed"}')).toBe(2);
    expect(sample(await b.registry.render(), 'cohort_sync_runs_total{status="failed"}')).toBe(0);
  });
});

describe('the series /metrics shows', () => {
  it('are the same as before prom-client, with the process and event-loop series added', async () => {
    const m = createServiceMetrics(new PromMetricsRegistry());
    m.brazeResponses.inc({ status: '201' });
    m.realtimeLag.observe(1);
    m.runDuration.observe({ status: 'succeeded' }, 2);
    expectServiceSeries(await await m.registry.render());
  });
});

const run = (status: Run['status'], seconds: number): Run => ({
  id: `run_${status}`,
  projectId: 'prj',
  syncId: 'syn',
  brazeCohortId: 'bzc',
  status,
  trigger: 'schedule',
  phase: 'done',
  mode: 'full',
  queuedAt: '2025-01-01T00:00:00.000Z',
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: new Date(Date.parse('2025-01-01T00:00:00.000Z') + seconds * 1000).toISOString(),
  counts: { added: 0, removed: 0, skipped: 0, failed: 0 },
  identifiers: { added: 0, removed: 0 },
  requests: 0,
  retries: 0,
  skipReasons: {},
  totalBatches: 0,
  error: null,
  reconcile: false,
  plannedFrom: null,
});

describe('service metrics', () => {
  it('start the known series at zero and count runs by status and real-time lag', async () => {
    const m = createServiceMetrics(bare());
    let text = await m.registry.render();
    for (const status of ['succeeded', 'failed', 'cancelled'])
      expect(sample(text, `cohort_sync_runs_total{status="${status}"}`)).toBe(0);
    expect(sample(text, 'cohort_sync_identifiers_sent_total{operation="add"}')).toBe(0);
    expect(sample(text, 'cohort_sync_braze_retries_total')).toBe(0);

    const observer = new MetricsRunObserver(m);
    observer.runFinished({ run: run('succeeded', 3), sync: undefined });
    observer.runFinished({ run: run('succeeded', 30), sync: undefined });
    observer.runFinished({ run: run('failed', 1), sync: undefined });
    observeRealtimeLag(0.3, m);
    observeRealtimeLag(7, m);
    observeRealtimeLag(Number.NaN, m);
    text = await m.registry.render();
    expect(sample(text, 'cohort_sync_runs_total{status="succeeded"}')).toBe(2);
    expect(sample(text, 'cohort_sync_runs_total{status="failed"}')).toBe(1);
    expect(sample(text, 'cohort_sync_run_duration_seconds_count{status="succeeded"}')).toBe(2);
    expect(sample(text, 'cohort_sync_run_duration_seconds_sum{status="succeeded"}')).toBe(33);
    expect(sample(text, 'cohort_sync_realtime_lag_seconds_bucket{le="0.5"}')).toBe(1);
    expect(sample(text, 'cohort_sync_realtime_lag_seconds_bucket{le="10"}')).toBe(2);
    expect(sample(text, 'cohort_sync_realtime_lag_seconds_count')).toBe(2);
    expectWellFormed(text);
  });

  it('records the lag of successful real-time (incremental) runs from queueing to acknowledgement', async () => {
    const m = createServiceMetrics(bare());
    const observer = new MetricsRunObserver(m);
    observer.runFinished({
      run: { ...run('succeeded', 2), mode: 'incremental', trigger: 'real_time' },
      sync: undefined,
    });
    observer.runFinished({ run: { ...run('failed', 1), mode: 'incremental', trigger: 'real_time' }, sync: undefined });
    observer.runFinished({ run: run('succeeded', 100), sync: undefined });
    const text = await m.registry.render();
    expect(sample(text, 'cohort_sync_realtime_lag_seconds_count')).toBe(1);
    expect(sample(text, 'cohort_sync_realtime_lag_seconds_sum')).toBe(2);
  });

  it('serves /metrics as text/plain; version=0.0.4 without auth', async () => {
    const m = createServiceMetrics(bare());
    m.runs.inc({ status: 'succeeded' }, 5);
    const app = Fastify();
    await app.register(metricsRoutes, { metrics: m });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['content-type']).toContain('version=0.0.4');
    expect(sample(res.body, 'cohort_sync_runs_total{status="succeeded"}')).toBe(5);
    expectWellFormed(res.body);
  });
});

describe('instrumented Braze destination', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('counts Braze answers by status, retries and acknowledged identifiers, and still feeds the request log', async () => {
    const m = createServiceMetrics(bare());
    const inner = new CohortImportDefinition(
      new BrazeHttp({
        limiter: new InMemoryRateLimiter(),
        retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
        requestTimeoutMs: 2_000,
      }),
      { partnerSlug: 'cohort-sync', partnerKeys: { US: 'sandbox-partner-key' } },
    );
    const instrumented = instrumentDefinition(inner, m);
    const audience = { id: 'coh_1', name: 'Buyers', createdAt: new Date().toISOString(), attribute: null };
    const destination = {
      upsertCohort: (t: { endpoint: string; secret: string }, _c: unknown, opts?: CallOptions) =>
        instrumented.ensureAudience!(t, audience, opts),
      changeMembership: (
        t: { endpoint: string; secret: string },
        _id: string,
        change: MembershipChange,
        opts?: CallOptions,
      ) => instrumented.sendBatch(t, audience, change, opts),
    };
    const key = sandbox.state.createWorkspace();
    sandbox.state.seedUsers(key, [{ external_id: 'u1' }, { external_id: 'u2' }, { external_id: 'u3' }]);
    const target = { endpoint: sandbox.url, secret: key };
    const log: RequestLogEntry[] = [];

    await destination.upsertCohort(
      target,
      { id: 'coh_1', name: 'Buyers', createdAt: new Date().toISOString() },
      { onRequest: (e) => log.push(e) },
    );
    sandbox.state.injectFaults([
      { status: 429, path: 'users', headers: { 'Retry-After': '0' } },
      { status: 503, path: 'users' },
    ]);
    await destination.changeMembership(
      target,
      'coh_1',
      {
        add: [
          { kind: 'external_id', value: 'u1' },
          { kind: 'external_id', value: 'u2' },
          { kind: 'external_id', value: 'u3' },
        ],
        remove: [],
      },
      { onRequest: (e) => log.push(e) },
    );
    await destination.changeMembership(target, 'coh_1', { add: [], remove: [{ kind: 'external_id', value: 'u3' }] });
    expect(log.map((e) => e.status)).toEqual([201, 429, 503, 201]);

    const text = await m.registry.render();
    expect(sample(text, 'cohort_sync_braze_responses_total{status="201"}')).toBe(3);
    expect(sample(text, 'cohort_sync_braze_responses_total{status="429"}')).toBe(1);
    expect(sample(text, 'cohort_sync_braze_responses_total{status="503"}')).toBe(1);
    expect(sample(text, 'cohort_sync_braze_retries_total')).toBe(2);
    expect(sample(text, 'cohort_sync_identifiers_sent_total{operation="add"}')).toBe(3);
    expect(sample(text, 'cohort_sync_identifiers_sent_total{operation="remove"}')).toBe(1);

    // A rejected key: the 401 is counted, nothing counts as sent, and the error reaches the caller unchanged.
    const bad = { endpoint: sandbox.url, secret: 'not-a-sandbox-key-000' };
    await expect(
      destination.changeMembership(bad, 'coh_1', { add: [{ kind: 'external_id', value: 'u9' }], remove: [] }),
    ).rejects.toBeInstanceOf(DeliveryError);
    const after = await m.registry.render();
    expect(sample(after, 'cohort_sync_braze_responses_total{status="401"}')).toBe(1);
    expect(sample(after, 'cohort_sync_identifiers_sent_total{operation="add"}')).toBe(3);
    expectWellFormed(after);
  });
});
