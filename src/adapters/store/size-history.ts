// Cohort size history (GET /cohorts/{c}/size-history): a point per full evaluation, and for changes — real-time
// behavioral passes, member uploads and the members API of static cohorts — one point per cohort and minute,
// moved to the last change of that minute, so a burst of changes costs one row, not one per change.
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

/** Changes of one cohort within one bucket share a size-history point. */
export const CHANGE_BUCKET_MS = 60_000;

export type SizePointSource = 'evaluation' | 'change';

/** Records the cohort's size at `atMs`, inside the transaction that changed it. */
export async function recordSizePoint(
  tx: Kysely<Database>,
  cohortId: string,
  atMs: number,
  size: number,
  source: SizePointSource,
): Promise<void> {
  if (source === 'change') {
    const last = await sql<{ id: number; at_ms: number; source: string }>`select id, at_ms, source
      from cohort_size_history where cohort_id = ${cohortId} order by at_ms desc, id desc limit 1`.execute(tx);
    const row = last.rows[0];
    if (
      row &&
      row.source === 'change' &&
      Math.floor(Number(row.at_ms) / CHANGE_BUCKET_MS) === Math.floor(atMs / CHANGE_BUCKET_MS)
    ) {
      await sql`update cohort_size_history set at_ms = ${atMs}, size = ${size} where id = ${row.id}`.execute(tx);
      return;
    }
  }
  await sql`insert into cohort_size_history (cohort_id, at_ms, size, source)
    values (${cohortId}, ${atMs}, ${size}, ${source})`.execute(tx);
}

/** After a membership change of a cohort whose size was just updated in `tx`: its point for this minute. */
export async function recordChangedSize(tx: Kysely<Database>, cohortId: string, now: string): Promise<void> {
  const row = await tx.selectFrom('cohorts').select('size').where('id', '=', cohortId).executeTakeFirst();
  if (row) await recordSizePoint(tx, cohortId, Date.parse(now), Number(row.size), 'change');
}
