// Syncs: one cohort to one target (docs/design.md §8), and asking for runs.

import { attributeNameProblem, attributeValueProblem, defaultAttributeFor, firstFree } from '../domain/attributes.ts';
import { cronProblem, nextRunAfter } from '../domain/cadence.ts';
import {
  brazeCohortName,
  type Cadence,
  type Cohort,
  type Run,
  type RunMode,
  type RunTrigger,
  type Sync,
  type SyncAttribute,
  type Target,
} from '../domain/model.ts';
import { requireCohort } from './cohorts.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';
import { DEFAULT_TARGET_NAME, refuseAttribute, requireTarget } from './targets.ts';

export interface SyncInput {
  readonly cohortId: string;
  readonly targetId?: string;
  readonly cadence: Cadence;
  readonly cron?: string;
  readonly notifyEmails?: readonly string[];
  /** custom_attribute targets: the array value, or (boolean style) the attribute name; default from the cohort. */
  readonly attribute?: { readonly value?: string; readonly name?: string };
}

/** Creating a sync: the project, cohort and target it joins, its audience, and its first run. */
export type SyncCreationDeps = Uses<
  'clock' | 'newId' | 'secrets' | 'settings' | 'queue' | 'destinations',
  'projects' | 'cohorts' | 'targets' | 'syncs' | 'audiences' | 'runs'
>;
/** Asking for a run: the run (coalesced), the audience marked dirty, and its dispatch. */
export type RunRequestDeps = Uses<'clock' | 'newId' | 'queue', 'runs' | 'audiences'>;

function checkCadence(cadence: Cadence, cron: string | null | undefined): void {
  if (cadence === 'cron') {
    if (!cron) throw invalid([{ path: 'cron', message: 'a cron expression is required for the cron cadence' }]);
    const problem = cronProblem(cron);
    if (problem) throw invalid([{ path: 'cron', message: problem }]);
  }
}

export async function createSync(deps: SyncCreationDeps, projectId: string, input: SyncInput): Promise<Sync> {
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
  const attribute = await chooseAttribute(deps, projectId, target, cohort, input.attribute);
  const now = deps.clock.now();
  // An attribute sync is its own audience: what it acknowledged is "profiles carrying this attribute value".
  const workspaceKey = attribute
    ? deps.secrets.fingerprint('braze-attribute', target.workspaceKey, attribute.name, attribute.value ?? '')
    : target.workspaceKey;
  const brazeCohort = await deps.store.audiences.ensure({
    id: deps.newId('bzc'),
    projectId,
    workspaceKey,
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
    audienceRef: brazeCohort.id,
    cadence,
    cron: input.cron ?? null,
    notifyEmails: input.notifyEmails ?? [],
    nextRunAt: next?.toISOString() ?? null,
    attribute,
    createdAt: now.toISOString(),
  });
  // Every cadence starts with a full run right away (docs/design.md §8: "first run right away").
  await requestRun(deps, sync, 'schedule');
  return sync;
}

/**
 * The attribute a custom_attribute sync writes, fixed at creation: the array value (the target names the
 * attribute) or, in boolean style, the attribute itself. Unique per target; the default comes from the cohort's
 * name, made unique with a suffix, while a value asked for that is taken is a conflict.
 */
async function chooseAttribute(
  deps: Uses<'destinations', 'syncs'>,
  projectId: string,
  target: Target,
  cohort: Cohort,
  asked: SyncInput['attribute'],
): Promise<SyncAttribute | null> {
  if (deps.destinations.get(target.delivery).audience !== 'attribute' || !target.attribute) {
    if (asked !== undefined) refuseAttribute(deps.destinations, (modes) => `syncs of ${modes} targets`);
    return null;
  }
  const style = target.attribute.style;
  const field = style === 'array' ? 'value' : 'name';
  const other = style === 'array' ? 'name' : 'value';
  if (asked?.[other] !== undefined)
    throw invalid([
      {
        path: `attribute.${other}`,
        message:
          style === 'array'
            ? `the target writes the array attribute "${target.attribute.name}"; a sync chooses only its value`
            : 'in boolean style a sync chooses only its attribute name',
      },
    ]);
  const siblings = await deps.store.syncs.list(projectId, { targetId: target.id });
  const taken = new Set(
    siblings.map((s) => (style === 'array' ? s.attribute?.value : s.attribute?.name)).filter((v) => v != null),
  ) as Set<string>;
  const wanted = asked?.[field];
  let chosen: string;
  if (wanted !== undefined) {
    const problem = style === 'array' ? attributeValueProblem(wanted) : attributeNameProblem(wanted);
    if (problem) throw invalid([{ path: `attribute.${field}`, message: problem }]);
    if (taken.has(wanted))
      throw new AppError(
        409,
        'attribute_taken',
        `another sync of target "${target.name}" already writes ${field} "${wanted}"`,
      );
    chosen = wanted;
  } else {
    chosen = firstFree(defaultAttributeFor(cohort, style), taken, style === 'array' ? '-' : '_');
  }
  return style === 'array'
    ? { name: target.attribute.name ?? 'cohorts', value: chosen }
    : { name: chosen, value: null };
}

/** The segment filter a marketer builds in the destination to use this sync's audience, in words. */
export async function segmentFilterOf(
  deps: Uses<'destinations' | 'settings', 'targets' | 'cohorts'>,
  sync: Sync,
): Promise<string> {
  const target = await deps.store.targets.get(sync.projectId, sync.targetId);
  const cohort = await deps.store.cohorts.get(sync.projectId, sync.cohortId);
  if (!target || !cohort) return '';
  return deps.destinations.get(target.delivery).segmentFilter({
    id: cohort.id,
    name: brazeCohortName(deps.settings.cohortNamePrefix, cohort),
    createdAt: sync.createdAt,
    attribute: sync.attribute,
  });
}

export async function requireSync(deps: Uses<never, 'syncs'>, projectId: string, syncId: string): Promise<Sync> {
  const sync = await deps.store.syncs.get(projectId, syncId);
  if (!sync) throw notFound('sync', syncId);
  return sync;
}

/**
 * Asks for a run. Runs coalesce: while one of this sync's runs is still queued, asking again returns it.
 * The Braze cohort is marked dirty so a lease holder folds the request in before it lets go.
 */
export async function requestRun(
  deps: RunRequestDeps,
  sync: Sync,
  trigger: RunTrigger,
  mode: RunMode = 'full',
  opts: { reconcile?: boolean } = {},
): Promise<Run> {
  const { runs, audiences } = deps.store;
  const queued = await runs.queuedFor(sync.id, mode);
  // A full reconcile asked for while a run waits makes that run one, unless it started meanwhile.
  const folded = queued && opts.reconcile && !queued.reconcile ? await runs.askReconcile(queued.id) : queued;
  const run =
    folded ??
    (await runs.create({
      id: deps.newId('run'),
      projectId: sync.projectId,
      syncId: sync.id,
      brazeCohortId: sync.audienceRef,
      trigger,
      mode,
      now: deps.clock.now().toISOString(),
      ...(opts.reconcile ? { reconcile: true } : {}),
    }));
  await audiences.markDirty(sync.audienceRef);
  await deps.queue.dispatch(sync.audienceRef);
  return run;
}

/**
 * Run now. A run plans from the change log when that is exact (src/app/incremental.ts); `reconcile` asks for a
 * full reconcile instead, which re-reads every member of the cohort.
 */
export async function runNow(
  deps: Uses<'clock' | 'newId' | 'queue', 'runs' | 'audiences' | 'syncs'>,
  projectId: string,
  syncId: string,
  opts: { reconcile?: boolean } = {},
): Promise<Run> {
  const sync = await requireSync(deps, projectId, syncId);
  if (sync.paused) throw new AppError(409, 'sync_paused', 'the sync is paused; resume it to run it');
  return requestRun(deps, sync, 'manual', 'full', opts);
}
