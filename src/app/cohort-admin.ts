// Cohorts beyond static membership (cohorts.ts): creating by type, listing, renaming, deleting, and
// reading members page by page.
import type { Cohort } from '../domain/model.ts';
import type { ProfileRecord } from '../ports/store.ts';
import { type BehavioralDeps, checkDefinition, evaluateCohorts, knownCohorts } from './behavioral.ts';
import { createStaticCohort, type MembershipChanged, requireCohort } from './cohorts.ts';
import { cursorScope, openCursor, type Paged, sealCursor } from './cursors.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';
import { type RunRequestDeps, requestRun } from './syncs.ts';

/** Saving cohorts: behavioral definitions are checked and evaluated, and the syncs of a changed one run again. */
export type CohortAdminDeps = BehavioralDeps & RunRequestDeps & Uses<'newId', 'syncs'>;

export type CohortInput =
  | { readonly name: string; readonly type: 'static' }
  | { readonly name: string; readonly type: 'behavioral'; readonly definition: unknown };

export async function createCohort(deps: CohortAdminDeps, projectId: string, input: CohortInput): Promise<Cohort> {
  if (input.type === 'static') return createStaticCohort(deps, projectId, { name: input.name });
  await requireProject(deps, projectId);
  const name = input.name.trim();
  if (!name) throw invalid([{ path: 'name', message: 'a cohort needs a name' }]);
  const id = deps.newId('coh');
  await checkDefinition(deps, projectId, id, input.definition);
  await deps.store.cohorts.create({
    id,
    projectId,
    name,
    type: 'behavioral',
    definition: input.definition,
    now: deps.clock.now().toISOString(),
  });
  // Evaluated on save, so the cohort has its members before any sync reads it (docs/cohorts.md).
  await evaluateCohorts(deps, projectId, [id]);
  return requireCohort(deps, projectId, id);
}

export async function listCohorts(deps: Uses<never, 'projects' | 'cohorts'>, projectId: string): Promise<Cohort[]> {
  await requireProject(deps, projectId);
  return deps.store.cohorts.list(projectId);
}

export interface CohortPatch {
  readonly name?: string;
  readonly definition?: unknown;
}

/**
 * Renames (the id, which is also the Braze cohort id, never changes). A rename reaches Braze with the next
 * run, so active scheduled and real-time syncs of the cohort are asked to run now; one-time syncs are left
 * alone (they run again only when asked).
 */
export async function updateCohort(
  deps: CohortAdminDeps,
  projectId: string,
  cohortId: string,
  patch: CohortPatch,
  onChanged?: MembershipChanged,
): Promise<Cohort> {
  const cohort = await requireCohort(deps, projectId, cohortId);
  const name = patch.name?.trim();
  if (name !== undefined && !name) throw invalid([{ path: 'name', message: 'a cohort needs a name' }]);
  if (patch.definition !== undefined && cohort.type !== 'behavioral') {
    throw new AppError(
      422,
      'cohort_not_behavioral',
      `cohort ${cohort.id} is static: it has no definition; change its members instead`,
    );
  }
  if (patch.definition !== undefined) await checkDefinition(deps, projectId, cohortId, patch.definition);
  const updated = await deps.store.cohorts.update(
    projectId,
    cohortId,
    {
      ...(name !== undefined ? { name } : {}),
      ...(patch.definition !== undefined ? { definition: patch.definition } : {}),
    },
    deps.clock.now().toISOString(),
  );
  if (!updated) throw notFound('cohort', cohortId);
  // A new definition is evaluated at once (and the cohorts reading this one through inCohort after it);
  // real-time syncs of every cohort that changed follow through the membership hook.
  const changed = patch.definition !== undefined ? await evaluateCohorts(deps, projectId, [cohortId]) : [];
  for (const c of changed) if (c.cohortId !== cohortId) await onChanged?.(projectId, c.cohortId);
  const renamed = name !== undefined && name !== cohort.name;
  if (renamed || changed.some((c) => c.cohortId === cohortId)) {
    for (const sync of await deps.store.syncs.list(projectId, { cohortId })) {
      if (!sync.paused && sync.cadence !== 'one_time') await requestRun(deps, sync, 'manual');
    }
  }
  return patch.definition !== undefined ? requireCohort(deps, projectId, cohortId) : updated;
}

export async function deleteCohort(
  deps: BehavioralDeps & Uses<never, 'syncs'>,
  projectId: string,
  cohortId: string,
): Promise<void> {
  const cohort = await requireCohort(deps, projectId, cohortId);
  const syncs = await deps.store.syncs.list(projectId, { cohortId });
  if (syncs.length > 0) {
    throw new AppError(
      409,
      'cohort_in_use',
      `cohort "${cohort.name}" is used by ${syncs.length} sync(s); delete them first`,
      { syncs: syncs.map((s) => s.id) },
    );
  }
  const readers = [...(await knownCohorts(deps, projectId)).values()].filter((c) =>
    c.definition?.all.some((g) => g.any.some((x) => 'inCohort' in x && x.inCohort === cohortId)),
  );
  if (readers.length > 0) {
    throw new AppError(
      409,
      'cohort_in_use',
      `cohort "${cohort.name}" is read by ${readers.length} behavioral cohort(s) through inCohort; change them first`,
      { cohorts: readers.map((c) => c.id) },
    );
  }
  await deps.store.cohorts.delete(projectId, cohortId);
  await deps.store.behavioral.forget(cohortId);
}

export async function listCohortMembers(
  deps: Uses<'secrets', 'cohorts' | 'membership'>,
  projectId: string,
  cohortId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Paged<ProfileRecord>> {
  const cohort = await requireCohort(deps, projectId, cohortId);
  const scope = cursorScope('cohort-members', projectId, cohort.id);
  const result = await deps.store.membership.listMembers(cohort.id, page.limit, openCursor(deps, scope, page.cursor));
  return { items: result.items, nextCursor: sealCursor(deps, scope, result.nextCursor) };
}
