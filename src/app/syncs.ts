// Syncs: one cohort to one target (product.md §4), and asking for runs.
import { cronProblem, nextRunAfter } from '../domain/cadence.ts';
import type { Cadence, Run, RunMode, RunTrigger, Sync } from '../domain/model.ts';
import { requireCohort } from './cohorts.ts';
import type { AppDeps } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';
import { DEFAULT_TARGET_NAME, requireTarget } from './targets.ts';

export interface SyncInput {
  readonly cohortId: string;
  readonly targetId?: string;
  readonly cadence: Cadence;
  readonly cron?: string;
  readonly notifyEmails?: readonly string[];
}

function checkCadence(cadence: Cadence, cron: string | null | undefined): void {
  if (cadence === 'cron') {
    if (!cron) throw invalid([{ path: 'cron', message: 'a cron expression is required for the cron cadence' }]);
    const problem = cronProblem(cron);
    if (problem) throw invalid([{ path: 'cron', message: problem }]);
  }
}

export async function createSync(deps: AppDeps, projectId: string, input: SyncInput): Promise<Sync> {
  const project = await requireProject(deps, projectId);
  if (!project.brazeEnabled)
    throw new AppError(422, 'braze_not_enabled', 'enable the Braze destination for this project before creating syncs');
  const cohort = await requireCohort(deps, projectId, input.cohortId);
  const target = input.targetId
    ? await requireTarget(deps, projectId, input.targetId)
    : await deps.store.targets.findByName(projectId, DEFAULT_TARGET_NAME);
  if (!target)
    throw new AppError(404, 'no_default_target', 'no targetId was given and the project has no "Default" target');
  // A cron expression alone means the cron cadence.
  const cadence: Cadence =
    input.cron && input.cadence !== 'cron' && input.cadence !== 'real_time' && input.cadence !== 'one_time'
      ? 'cron'
      : input.cadence;
  checkCadence(cadence, input.cron);
  const now = deps.clock.now();
  const brazeCohort = await deps.store.brazeCohorts.ensure({
    id: deps.newId('bzc'),
    projectId,
    workspaceKey: target.workspaceKey,
    cohortId: cohort.id,
    now: now.toISOString(),
  });
  const id = deps.newId('syn');
  const next = nextRunAfter(cadence, id, now, input.cron, {
    realtimeReconcileMs: deps.settings.realtimeReconcileMinutes * 60_000,
  });
  const sync = await deps.store.syncs.create({
    id,
    projectId,
    cohortId: cohort.id,
    targetId: target.id,
    brazeCohortRef: brazeCohort.id,
    cadence,
    cron: input.cron ?? null,
    notifyEmails: input.notifyEmails ?? [],
    nextRunAt: next?.toISOString() ?? null,
    createdAt: now.toISOString(),
  });
  // Every cadence starts with a full run right away (product.md §4: "first run right away").
  await requestRun(deps, sync, 'schedule');
  return sync;
}

export async function requireSync(deps: AppDeps, projectId: string, syncId: string): Promise<Sync> {
  const sync = await deps.store.syncs.get(projectId, syncId);
  if (!sync) throw notFound('sync', syncId);
  return sync;
}

/**
 * Asks for a run. Runs coalesce: while one of this sync's runs is still queued, asking again returns it.
 * The Braze cohort is marked dirty so a lease holder folds the request in before it lets go.
 */
export async function requestRun(deps: AppDeps, sync: Sync, trigger: RunTrigger, mode: RunMode = 'full'): Promise<Run> {
  const { runs, brazeCohorts } = deps.store;
  const run =
    (await runs.queuedFor(sync.id, mode)) ??
    (await runs.create({
      id: deps.newId('run'),
      projectId: sync.projectId,
      syncId: sync.id,
      brazeCohortId: sync.brazeCohortRef,
      trigger,
      mode,
      now: deps.clock.now().toISOString(),
    }));
  await brazeCohorts.markDirty(sync.brazeCohortRef);
  await deps.queue.dispatch(sync.brazeCohortRef);
  return run;
}

export async function runNow(deps: AppDeps, projectId: string, syncId: string): Promise<Run> {
  const sync = await requireSync(deps, projectId, syncId);
  if (sync.paused) throw new AppError(409, 'sync_paused', 'the sync is paused; resume it to run it');
  return requestRun(deps, sync, 'manual');
}
