// Changing and deleting syncs (docs/product.md §4): pause, resume, cadence, recipients; delete with or without
// removing the sync's members from the Braze cohort.
import { cronProblem, nextRunAfter } from '../domain/cadence.ts';
import type { Cadence, Run, Sync } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { invalid, notFound } from './errors.ts';
import { checkEmails } from './project-admin.ts';
import { requireProject } from './projects.ts';
import { type RunRequestDeps, requestRun, requireSync } from './syncs.ts';

/** Changing or deleting a sync: the sync, its next run time, and the run a resume or a delete asks for. */
export type SyncAdminDeps = RunRequestDeps & Uses<'settings', 'syncs'>;

export async function listSyncs(deps: Uses<never, 'projects' | 'syncs'>, projectId: string): Promise<Sync[]> {
  await requireProject(deps, projectId);
  return deps.store.syncs.list(projectId);
}

export interface SyncPatch {
  readonly paused?: boolean;
  readonly cadence?: Cadence;
  /** null clears it (with a cadence other than cron). */
  readonly cron?: string | null;
  readonly notifyEmails?: readonly string[];
}

/** The cadence and cron a patch leads to; a cron expression alone means the cron cadence, as on create. */
function scheduleAfter(sync: Sync, patch: SyncPatch): { cadence: Cadence; cron: string | null } {
  const problems: { path: string; message: string }[] = [];
  let cadence = patch.cadence ?? sync.cadence;
  let cron = patch.cron !== undefined ? patch.cron : sync.cron;
  if (typeof patch.cron === 'string') {
    if (patch.cadence === undefined || patch.cadence === 'hourly' || patch.cadence === 'daily') cadence = 'cron';
    else if (patch.cadence !== 'cron')
      problems.push({
        path: 'cron',
        message: `a cron expression applies to scheduled syncs, not to the ${patch.cadence} cadence`,
      });
  }
  if (cadence === 'cron') {
    if (!cron) problems.push({ path: 'cron', message: 'a cron expression is required for the cron cadence' });
    else {
      const problem = cronProblem(cron);
      if (problem) problems.push({ path: 'cron', message: problem });
    }
  } else {
    cron = null;
  }
  if (patch.notifyEmails) problems.push(...checkEmails(patch.notifyEmails, 'notifyEmails'));
  if (problems.length > 0) throw invalid(problems);
  return { cadence, cron };
}

/**
 * Applies a patch. The next scheduled time is recomputed when the schedule changes or the sync resumes;
 * resuming asks for a run right away (changes made while paused go out now, not at the next slot).
 */
export async function updateSync(
  deps: SyncAdminDeps,
  projectId: string,
  syncId: string,
  patch: SyncPatch,
): Promise<Sync> {
  const sync = await requireSync(deps, projectId, syncId);
  const { cadence, cron } = scheduleAfter(sync, patch);
  const paused = patch.paused ?? sync.paused;
  const resumed = sync.paused && !paused;
  const now = deps.clock.now();
  const rescheduled = cadence !== sync.cadence || cron !== sync.cron || resumed;
  const updated = await deps.store.syncs.update(
    projectId,
    syncId,
    {
      paused,
      cadence,
      cron,
      ...(patch.notifyEmails ? { notifyEmails: [...new Set(patch.notifyEmails.map((e) => e.trim()))] } : {}),
      ...(rescheduled
        ? {
            nextRunAt:
              nextRunAfter(cadence, sync.id, now, cron, {
                realtimeReconcileMs: deps.settings.realtimeReconcileMinutes * 60_000,
              })?.toISOString() ?? null,
          }
        : {}),
    },
    now.toISOString(),
  );
  if (!updated) throw notFound('sync', syncId);
  if (resumed) await requestRun(deps, updated, 'resume');
  return updated;
}

/**
 * Deletes a sync. With `removeMembers`, the sync is paused and a remove-all run is queued: the executor
 * removes what no other sync of the same Braze cohort still wants, then deletes the sync when that run
 * succeeds (so a failed removal can be retried and is visible in the run history). Returns that run.
 */
export async function deleteSync(
  deps: SyncAdminDeps,
  projectId: string,
  syncId: string,
  opts: { removeMembers?: boolean } = {},
): Promise<Run | null> {
  const sync = await requireSync(deps, projectId, syncId);
  if (!opts.removeMembers) {
    await deps.store.syncs.delete(projectId, sync.id);
    return null;
  }
  const paused = (await deps.store.syncs.update(
    projectId,
    sync.id,
    { paused: true },
    deps.clock.now().toISOString(),
  )) ?? { ...sync, paused: true };
  return requestRun(deps, paused, 'delete', 'remove_all');
}
