// What use cases are given. Entry points build it from adapters; tests build it from real adapters too.
import type { Clock } from '../ports/clock.ts';
import type { DestinationRegistry } from '../ports/destination.ts';
import type { Logger } from '../ports/logger.ts';
import type { JobQueue } from '../ports/queue.ts';
import type { Secrets } from '../ports/secrets.ts';
import type { Store } from '../ports/store.ts';
import type { RunEventPublisher, RunEvents } from './run-events.ts';

export interface AppSettings {
  readonly cohortNamePrefix: string;
  /** Extra endpoints targets may use besides Braze's instances (the sandbox, BRAZE_ALLOWED_ENDPOINTS). */
  readonly allowedEndpoints: readonly string[];
  readonly concurrency: number;
  readonly leaseTtlMs: number;
  /** How many skipped members a run records by name (all are counted). */
  readonly skipRowsKept: number;
  /** Period of the full reconciliation run of real-time syncs (config runs.realtimeReconcileMinutes). */
  readonly realtimeReconcileMinutes: number;
  /**
   * Scheduled and manual runs plan from the change log; one re-reads the whole cohort when the last full
   * reconcile is this old (config runs.fullReconcileHours, FULL_RECONCILE_HOURS; 0: every run does).
   */
  readonly fullReconcileHours: number;
  /** Run history older than this is pruned (config runs.historyDays, RUN_HISTORY_DAYS). */
  readonly runHistoryDays: number;
  /** In a burst of changes, a real-time sync's incremental runs start at most this often (changes fold in). */
  readonly realtimeGatherMs: number;
  /** EVENT_RETENTION_DAYS: how long events are kept; no behavioral window may reach further back. */
  readonly eventRetentionDays: number;
  /** How often rolling windows of behavioral cohorts are swept (members whose events aged out leave). */
  readonly behavioralSweepMs: number;
  /**
   * Real-time behavioral evaluation runs at most this often per project: the batches ingested meanwhile share
   * one pass over the profiles they touched (src/app/behavioral.ts). 0: a pass as soon as a batch lands.
   */
  readonly behavioralGatherMs: number;
}

export interface AppDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly newId: (prefix: string) => string;
  readonly secrets: Secrets;
  /** One definition per delivery mode, looked up by a target's `delivery`. */
  readonly destinations: DestinationRegistry;
  readonly queue: JobQueue;
  readonly logger: Logger;
  readonly settings: AppSettings;
  /** Finished runs are published here; observers subscribe after composition. */
  readonly runEvents: RunEvents & RunEventPublisher;
}

export const DEFAULT_SETTINGS: AppSettings = {
  cohortNamePrefix: 'cohort-sync',
  allowedEndpoints: [],
  concurrency: 4,
  leaseTtlMs: 60_000,
  skipRowsKept: 100_000,
  realtimeReconcileMinutes: 60,
  fullReconcileHours: 24,
  runHistoryDays: 30,
  realtimeGatherMs: 1_000,
  eventRetentionDays: 400,
  behavioralSweepMs: 15_000,
  behavioralGatherMs: 250,
};

/**
 * The part of AppDeps a use case touches, with only the store repositories it uses, e.g.
 * `Uses<'clock' | 'logger', 'runs' | 'syncs'>`. A use case declares it as a named type beside itself, so its
 * signature says what it reads and writes and a test can build it with those parts alone; the full AppDeps
 * fits every one of them (docs/architecture.md, "Each use case takes the ports it uses").
 */
export type Uses<K extends Exclude<keyof AppDeps, 'store'> = never, R extends keyof Store = never> = Pick<AppDeps, K> &
  ([R] extends [never] ? unknown : { readonly store: Pick<Store, R> });
