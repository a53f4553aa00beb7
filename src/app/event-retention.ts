// Background pruning of ingested events (EVENT_RETENTION_DAYS) and of expired insert_id dedupe keys.
// A project's events are kept at least as long as the longest rolling window one of its saved behavioral
// cohorts uses, so pruning never changes a cohort's membership.
import type { Uses } from './deps.ts';
import { DAY_MS, DEDUPE_WINDOW_MS } from './ingest.ts';

/** The longest window (ms) a saved cohort definition of the project looks back over; 0 when none. */
export type LongestWindow = (projectId: string) => Promise<number>;

export interface PruneOptions {
  readonly retentionDays: number;
  readonly longestWindowMs: LongestWindow;
  /** Rows per delete statement, so a large backlog never holds a long lock. */
  readonly batch?: number;
}

export interface PruneReport {
  readonly events: number;
  readonly dedupeKeys: number;
}

/** Pruning reads the projects and deletes from the event store. */
export type PruneDeps = Uses<'clock', 'projects' | 'events'>;

export async function pruneEventHistory(deps: PruneDeps, opts: PruneOptions): Promise<PruneReport> {
  const batch = opts.batch ?? 10_000;
  const nowMs = deps.clock.now().getTime();
  let events = 0;
  for (const project of await deps.store.projects.list()) {
    const keepMs = Math.max(opts.retentionDays * DAY_MS, await opts.longestWindowMs(project.id));
    for (;;) {
      const n = await deps.store.events.pruneEvents(project.id, nowMs - keepMs, batch);
      events += n;
      if (n < batch) break;
    }
  }
  let dedupeKeys = 0;
  for (;;) {
    const n = await deps.store.events.pruneDedupe(nowMs - DEDUPE_WINDOW_MS, batch);
    dedupeKeys += n;
    if (n < batch) break;
  }
  return { events, dedupeKeys };
}

export interface EventPruner {
  stop(): Promise<void>;
}

/** Prunes now and then every `everyMs` (default hourly) until stopped; failures are logged and retried. */
export function startEventPruner(
  deps: PruneDeps & Uses<'logger'>,
  opts: PruneOptions & { everyMs?: number },
): EventPruner {
  const everyMs = opts.everyMs ?? 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = pruneEventHistory(deps, opts)
      .then((r) => {
        if (r.events > 0 || r.dedupeKeys > 0) deps.logger.info({ ...r }, 'pruned event history');
      })
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'pruning event history failed; retried later'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs).unref();
      });
  };
  timer = setTimeout(tick, 0).unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
