// The series /metrics must keep showing, and the shape of a well-formed exposition: shared by the unit test
// of the registry and the test of a running service's /metrics.
import { expect } from 'vitest';

/** Every line of an exposition is a HELP or TYPE comment or `name{labels} value`, per the 0.0.4 text format
 * (prom-client writes `Nan` for an event-loop mean not measured yet; Prometheus parses floats case-blind). */
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN|Nan)$/;
const COMMENT =
  /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

/** Blank lines (prom-client puts one between metrics) are allowed by the format and ignored by parsers. */
export function expectWellFormed(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n'))
    expect(line === '' || SAMPLE.test(line) || COMMENT.test(line), line).toBe(true);
}

/**
 * The series /metrics showed before prom-client (taken from the hand-written registry it replaced, commit
 * 74a1876): name, type, help and label names must not change, or dashboards and alerts break.
 */
const SERIES_BEFORE_PROM_CLIENT = [
  ['cohort_sync_runs_total', 'counter', 'Sync runs finished, by final status.', ['status']],
  [
    'cohort_sync_identifiers_sent_total',
    'counter',
    'Identifiers Braze acknowledged, by operation (add or remove).',
    ['operation'],
  ],
  [
    'cohort_sync_braze_responses_total',
    'counter',
    'HTTP answers from Braze by status code ("none" when no answer came: timeout or network error).',
    ['status'],
  ],
  [
    'cohort_sync_braze_retries_total',
    'counter',
    'Braze requests repeated after a 423/429/5xx answer or a network fault.',
    [],
  ],
  [
    'cohort_sync_realtime_lag_seconds',
    'histogram',
    'Seconds from a membership change to Braze acknowledging it, for real-time syncs.',
    [],
  ],
  [
    'cohort_sync_run_duration_seconds',
    'histogram',
    'Duration of finished runs from start to finish, by status.',
    ['status'],
  ],
] as const;

/** Process and Node.js series collectDefaultMetrics adds (a selection: CPU, memory, event loop, GC). */
const PROCESS_SERIES = [
  ['process_cpu_user_seconds_total', 'counter'],
  ['process_cpu_system_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['process_start_time_seconds', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
  ['nodejs_gc_duration_seconds', 'histogram'],
] as const;

/** Checks `text` holds every series of today's list with its help and type, every sample of them with exactly
 * its labels, and the process series. */
export function expectServiceSeries(text: string): void {
  for (const [name, type, help, labels] of SERIES_BEFORE_PROM_CLIENT) {
    expect(`\n${text}`, name).toContain(`\n# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    const sampleNames = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    for (const line of text
      .split('\n')
      .filter((l) => sampleNames.some((n) => l.startsWith(`${n}{`) || l.startsWith(`${n} `)))) {
      const labelNames = [...line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]).filter((l) => l !== 'le');
      expect(labelNames.sort(), line).toEqual([...labels].sort());
    }
  }
  for (const [name, type] of PROCESS_SERIES) expect(`\n${text}`, name).toContain(`\n# TYPE ${name} ${type}\n`);
  expectWellFormed(text);
}
