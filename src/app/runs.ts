// Reading runs: one run, a sync's history (filtered, newest first), a sync's latest run, progress.
import type { Run, RunStatus } from '../domain/model.ts';
import { cursorScope, openCursor, type Paged, sealCursor } from './cursors.ts';
import type { Uses } from './deps.ts';
import { invalid, notFound } from './errors.ts';
import { requireSync } from './syncs.ts';

export async function requireRun(deps: Uses<never, 'runs'>, projectId: string, runId: string): Promise<Run> {
  const run = await deps.store.runs.get(projectId, runId);
  if (!run) throw notFound('run', runId);
  return run;
}

export interface RunFilter {
  readonly status?: RunStatus | undefined;
  /** ISO-8601; runs queued at or after. */
  readonly from?: string | undefined;
  /** ISO-8601; runs queued before. */
  readonly to?: string | undefined;
}

/** Stored times are toISOString() text, so bounds are normalised to the same form before comparing. */
function instant(value: string | undefined, path: string): string | undefined {
  if (value === undefined) return undefined;
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw invalid([{ path, message: `${JSON.stringify(value)} is not an ISO-8601 time` }]);
  return t.toISOString();
}

export async function listSyncRuns(
  deps: Uses<'secrets', 'syncs' | 'runs'>,
  projectId: string,
  syncId: string,
  filter: RunFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<Paged<Run>> {
  const sync = await requireSync(deps, projectId, syncId);
  const scope = cursorScope('sync-runs', projectId, sync.id);
  const from = instant(filter.from, 'from');
  const to = instant(filter.to, 'to');
  const result = await deps.store.runs.list(
    projectId,
    {
      syncId: sync.id,
      ...(filter.status ? { status: filter.status } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
    },
    page.limit,
    openCursor(deps, scope, page.cursor),
  );
  return { items: result.items, nextCursor: sealCursor(deps, scope, result.nextCursor) };
}

export async function lastRunOf(
  deps: Uses<never, 'runs'>,
  projectId: string,
  syncId: string,
): Promise<Run | undefined> {
  return (await deps.store.runs.list(projectId, { syncId }, 1, null)).items[0];
}

/** Batches done out of all planned, for progress bars. */
export async function runProgress(deps: Uses<never, 'runs'>, runId: string): Promise<{ done: number; total: number }> {
  return deps.store.runs.progress(runId);
}
