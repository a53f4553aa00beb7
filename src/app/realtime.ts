// Real-time syncs (docs/product.md §4): a membership change reaches Braze within seconds. Whoever changes
// membership (the members API, CSV import, later ingestion) calls the hook built here after committing; it
// asks each real-time, unpaused sync concerned for an `incremental` run, which sends only the changed
// members (src/app/incremental.ts). Runs coalesce: while one waits to start, further changes fold into it.
// Anything missed (a crash between commit and hook, a hook that failed) is caught by the sync's periodic
// full reconciliation run, which the scheduler requests (src/app/scheduler.ts).
import type { Run, Sync } from '../domain/model.ts';
import type { MembershipChanged } from './cohorts.ts';
import type { Uses } from './deps.ts';
import { type RunRequestDeps, requestRun } from './syncs.ts';

/** Waking real-time syncs: which syncs follow the cohort, whether they have pending changes, and their runs. */
export type RealtimeDeps = RunRequestDeps & Uses<'logger', 'syncs' | 'planning'>;

/**
 * Asks for an incremental run of a real-time sync. A full run of the sync still waiting to start already
 * covers the change (it reads membership when it starts), so the request folds into it.
 */
export async function requestIncremental(deps: RunRequestDeps, sync: Sync): Promise<Run> {
  const queuedFull = await deps.store.runs.queuedFor(sync.id, 'full');
  if (queuedFull) return queuedFull;
  return requestRun(deps, sync, 'real_time', 'incremental');
}

async function wake(deps: RealtimeDeps, projectId: string, cohortId: string | null): Promise<Run[]> {
  const runs: Run[] = [];
  for (const sync of await deps.store.syncs.list(projectId)) {
    if (sync.cadence !== 'real_time' || sync.paused) continue;
    try {
      // Other cohorts' syncs only when the change log holds something for them: an identity change made
      // through this cohort (a device identified, an anonymous profile merged) touches every cohort of the profile.
      if (sync.cohortId !== cohortId && !(await deps.store.planning.hasPendingChanges(sync.audienceRef))) continue;
      runs.push(await requestIncremental(deps, sync));
    } catch (err) {
      // The change is committed and the reconciliation run will send it; the caller's request must not fail.
      deps.logger.warn({ err, syncId: sync.id, projectId, cohortId }, 'could not request a real-time run');
    }
  }
  return runs;
}

/** The hook membership changes call: `(projectId, cohortId) => …` after a change of that cohort is committed. */
export function membershipChanged(deps: RealtimeDeps): MembershipChanged {
  return async (projectId, cohortId) => {
    await wake(deps, projectId, cohortId);
  };
}

/**
 * For identity changes that concern no particular cohort (ingestion's identify calls, property updates):
 * wakes every real-time sync of the project whose Braze cohort has pending changes.
 */
export function identityChanged(deps: RealtimeDeps): (projectId: string) => Promise<void> {
  return async (projectId) => {
    await wake(deps, projectId, null);
  };
}
