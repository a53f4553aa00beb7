// Cohorts beyond static membership (cohorts.ts): creating by type, listing, renaming, deleting, and
// reading members page by page.
import type { Cohort } from '../domain/model.ts';
import type { ProfileRecord } from '../ports/store.ts';
import { createStaticCohort, requireCohort } from './cohorts.ts';
import { openCursor, type Paged, sealCursor } from './cursors.ts';
import type { AppDeps } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';
import { requestRun } from './syncs.ts';

export type CohortInput =
  | { readonly name: string; readonly type: 'static' }
  | { readonly name: string; readonly type: 'behavioral'; readonly definition: unknown };

export async function createCohort(deps: AppDeps, projectId: string, input: CohortInput): Promise<Cohort> {
  if (input.type === 'static') return createStaticCohort(deps, projectId, { name: input.name });
  await requireProject(deps, projectId);
  // Storing a definition nobody evaluates would give a cohort that is always empty, and a sync of it would
  // remove every member from Braze: refuse until the evaluator exists.
  throw new AppError(
    422,
    'cohort_type_unsupported',
    'behavioral cohorts are not available in this version; create a static cohort and set its members',
  );
}

export async function listCohorts(deps: AppDeps, projectId: string): Promise<Cohort[]> {
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
  deps: AppDeps,
  projectId: string,
  cohortId: string,
  patch: CohortPatch,
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
  if (name !== undefined && name !== cohort.name) {
    for (const sync of await deps.store.syncs.list(projectId, { cohortId })) {
      if (!sync.paused && sync.cadence !== 'one_time') await requestRun(deps, sync, 'manual');
    }
  }
  return updated;
}

export async function deleteCohort(deps: AppDeps, projectId: string, cohortId: string): Promise<void> {
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
  await deps.store.cohorts.delete(projectId, cohortId);
}

export async function listCohortMembers(
  deps: AppDeps,
  projectId: string,
  cohortId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Paged<ProfileRecord>> {
  const cohort = await requireCohort(deps, projectId, cohortId);
  const result = await deps.store.membership.listMembers(cohort.id, page.limit, openCursor(deps, page.cursor));
  return { items: result.items, nextCursor: sealCursor(deps, result.nextCursor) };
}
