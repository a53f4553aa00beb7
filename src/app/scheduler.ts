// The scheduler (docs/architecture.md "Run coordination", schedules): one tick every few seconds picks the syncs
// whose next_run_at has passed, moves next_run_at on, and requests a run — no per-sync timers or cron
// entries in the queue. Any number of processes may tick at once: each sync is claimed by a conditional
// UPDATE of next_run_at from the value the tick read, so exactly one scheduler requests each due run.
// Each tick is also the safety net of real-time syncs: a change whose wake-up hook never ran (a crash
// between commit and hook, a path that does not call it) is picked up within one interval.
// Once a day it also prunes run history and the member change log.
import { nextRunAfter } from '../domain/cadence.ts';
import type { Sync } from '../domain/model.ts';
import type { AppSettings, Uses } from './deps.ts';
import { requestIncremental } from './realtime.ts';
import { type RunRequestDeps, requestRun } from './syncs.ts';

const DAY_MS = 86_400_000;

export interface SchedulerOptions {
  /** Time between ticks; default 5 s. */
  readonly intervalMs?: number;
  /** Due syncs read per query; a tick keeps reading until none are left. Default 100. */
  readonly batchSize?: number;
  /** How often history is pruned; default daily. The first tick prunes. */
  readonly pruneEveryMs?: number;
}

export interface TickResult {
  /** The runs this tick requested (or folded into a queued one), by sync. */
  readonly requested: { syncId: string; runId: string; next: string | null }[];
  /** Incremental runs requested for real-time syncs with changes no run has picked up. */
  readonly woken: { syncId: string; runId: string }[];
  /** Set when this tick pruned: runs deleted and member_changes rows deleted. */
  readonly pruned: { runs: number; changes: number } | null;
}

export interface Scheduler {
  /** One pass. Exposed for tests and for `cohort-sync` commands; the loop calls it on its interval. */
  tick(): Promise<TickResult>;
  /** Stops the loop and waits for a tick in progress. */
  stop(): Promise<void>;
}

/**
 * When a sync runs next after `after`: scheduled cadences by nextRunAfter, real-time syncs their next full
 * reconciliation, one-time syncs never (null). Also what resuming or changing the cadence should store.
 */
export function nextRunFor(
  settings: Pick<AppSettings, 'realtimeReconcileMinutes'>,
  sync: Pick<Sync, 'cadence' | 'id' | 'cron'>,
  after: Date,
): Date | null {
  return nextRunAfter(sync.cadence, sync.id, after, sync.cron, {
    realtimeReconcileMs: settings.realtimeReconcileMinutes * 60_000,
  });
}

/** Asking for due runs and pruning history: the syncs due, their runs, the change log, webhook deliveries. */
export type SchedulerDeps = RunRequestDeps &
  Uses<'clock' | 'logger' | 'settings', 'syncs' | 'runs' | 'planning' | 'webhookDeliveries'>;

/** A scheduler without a timer: call tick() yourself. */
export function createScheduler(deps: SchedulerDeps, opts: SchedulerOptions = {}): Scheduler {
  const batchSize = opts.batchSize ?? 100;
  const pruneEveryMs = opts.pruneEveryMs ?? DAY_MS;
  let lastPrune: number | null = null;

  const prune = async (now: Date) => {
    lastPrune = now.getTime();
    const before = new Date(now.getTime() - deps.settings.runHistoryDays * DAY_MS).toISOString();
    const runs = await deps.store.runs.prune(before);
    const changes = await deps.store.planning.pruneChanges();
    const deliveries = await deps.store.webhookDeliveries.prune(before);
    deps.logger.info(
      { runs, changes, deliveries, before },
      'pruned run history, webhook deliveries and the member change log',
    );
    return { runs, changes };
  };

  const tick = async (): Promise<TickResult> => {
    const now = deps.clock.now();
    const requested: TickResult['requested'] = [];
    // Bounded: each claimed sync moves past `now`, and one another scheduler claimed leaves `due` too.
    for (let pass = 0; pass < 1000; pass++) {
      const due = await deps.store.syncs.due(now.toISOString(), batchSize);
      for (const sync of due) {
        if (sync.nextRunAt === null) continue;
        // Missed periods (the service was down) collapse into one run: the next time counts from now.
        const next = nextRunFor(deps.settings, sync, now)?.toISOString() ?? null;
        try {
          if (!(await deps.store.syncs.claimDue(sync.id, sync.nextRunAt, next, now.toISOString()))) continue;
          const run = await requestRun(deps, sync, 'schedule');
          requested.push({ syncId: sync.id, runId: run.id, next });
        } catch (err) {
          deps.logger.error({ err, syncId: sync.id }, 'could not request a scheduled run');
        }
      }
      if (due.length < batchSize) break;
    }
    const woken: TickResult['woken'] = [];
    try {
      // Braze cohorts whose last run failed within a minute wait: a failing Braze is not hammered every tick.
      const failedSince = new Date(now.getTime() - 60_000).toISOString();
      for (const syncId of await deps.store.planning.realtimeSyncsWithPendingChanges(failedSince)) {
        const sync = await deps.store.syncs.getById(syncId);
        if (!sync) continue;
        const run = await requestIncremental(deps, sync);
        woken.push({ syncId, runId: run.id });
      }
    } catch (err) {
      deps.logger.error({ err }, 'could not check real-time syncs for pending changes');
    }
    let pruned: TickResult['pruned'] = null;
    if (lastPrune === null || now.getTime() - lastPrune >= pruneEveryMs) {
      try {
        pruned = await prune(now);
      } catch (err) {
        deps.logger.error({ err }, 'pruning run history failed');
      }
    }
    return { requested, woken, pruned };
  };

  return { tick, stop: async () => {} };
}

/** Starts the scheduler loop: a tick right away, then one every intervalMs (never two at once). */
export function startScheduler(deps: SchedulerDeps, opts: SchedulerOptions = {}): Scheduler {
  const inner = createScheduler(deps, opts);
  const intervalMs = opts.intervalMs ?? 5_000;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<unknown> = Promise.resolve();

  const loop = () => {
    if (stopped) return;
    current = inner
      .tick()
      .catch((err: unknown) => deps.logger.error({ err }, 'scheduler tick failed'))
      .finally(() => {
        if (stopped) return;
        timer = setTimeout(loop, intervalMs);
        timer.unref();
      });
  };
  loop();

  return {
    tick: () => inner.tick(),
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
