// Runs per day of a project, for the syncs page's chart (docs/ui.md): runs queued in the last `days` UTC
// days, counted by status. Reads the run history page by page, so memory holds counts, not runs; the history
// is pruned after RUN_HISTORY_DAYS, which bounds the work.
import type { RunStatus } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { requireProject } from './projects.ts';

export interface DayOfRuns {
  /** YYYY-MM-DD, UTC. */
  readonly date: string;
  readonly succeeded: number;
  readonly failed: number;
  /** Queued, running or cancelled. */
  readonly other: number;
}

const DAY_MS = 86_400_000;
const PAGE = 1000;

export async function runsPerDay(
  deps: Uses<'clock', 'projects' | 'runs'>,
  projectId: string,
  days: number,
): Promise<DayOfRuns[]> {
  await requireProject(deps, projectId);
  const today = Math.floor(deps.clock.now().getTime() / DAY_MS) * DAY_MS;
  const first = today - (days - 1) * DAY_MS;
  const counts = new Map<string, { succeeded: number; failed: number; other: number }>();
  for (let t = first; t <= today; t += DAY_MS) {
    counts.set(new Date(t).toISOString().slice(0, 10), { succeeded: 0, failed: 0, other: 0 });
  }
  const bump = (status: RunStatus, at: string) => {
    const day = counts.get(at.slice(0, 10));
    if (!day) return;
    if (status === 'succeeded') day.succeeded++;
    else if (status === 'failed') day.failed++;
    else day.other++;
  };
  let cursor: string | null = null;
  do {
    const page = await deps.store.runs.list(projectId, { from: new Date(first).toISOString() }, PAGE, cursor);
    for (const run of page.items) bump(run.status, run.queuedAt);
    cursor = page.nextCursor;
  } while (cursor);
  return [...counts].map(([date, c]) => ({ date, ...c }));
}
