// A static cohort's members in bulk SQL: the per-member API would take far longer than the bench itself.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../src/adapters/store/schema.ts';

/**
 * `scrambled`: `<prefix>` + a 10-digit scramble of i, so key order is unrelated to profile order (as real ids are);
 * `sequential`: `<prefix>` + i, so a bench can name members it will change later.
 */
export type UserIdStyle = { readonly prefix: string; readonly scrambled: boolean };

export async function insertMembers(
  db: Kysely<Database>,
  engine: 'sqlite' | 'postgres',
  projectId: string,
  cohortId: string,
  n: number,
  ids: UserIdStyle,
): Promise<void> {
  const now = new Date().toISOString();
  if (engine === 'sqlite') {
    const userId = ids.scrambled
      ? sql`printf(${`${ids.prefix}%010d`}, (i * 2654435761) % 4294967296)`
      : sql`${ids.prefix} || i`;
    // Scrambled ids would land at random in the (project, user_id) index, one page write each: at 10M that
    // took minutes. Dropped and rebuilt around the insert instead (CREATE INDEX sorts), as a bulk load does.
    const index = await sql<{
      sql: string;
    }>`select sql from sqlite_master where type = 'index' and name = 'profiles_user'`.execute(db);
    const ddl = index.rows[0]?.sql;
    if (ddl) await sql`drop index profiles_user`.execute(db);
    await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
      with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n})
      select ${projectId}, ${userId}, '{}', ${now}, ${now} from s`.execute(db);
    // Before the index is back, so the members are read from the table in id order rather than through it.
    await insertCohortMembers(db, projectId, cohortId);
    if (ddl) await sql.raw(ddl).execute(db);
  } else {
    const userId = ids.scrambled
      ? sql`${ids.prefix}::text || lpad(((i::bigint * 2654435761) % 4294967296)::text, 10, '0')`
      : sql`${ids.prefix}::text || i`;
    await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
      select ${projectId}, ${userId}, '{}', ${now}, ${now} from generate_series(1, ${n}::int) i`.execute(db);
    await insertCohortMembers(db, projectId, cohortId);
  }
  await db.updateTable('cohorts').set({ size: n }).where('id', '=', cohortId).execute();
}

async function insertCohortMembers(db: Kysely<Database>, projectId: string, cohortId: string): Promise<void> {
  await sql`insert into cohort_members (cohort_id, profile_id) select ${cohortId}, id from profiles where project_id = ${projectId} order by id`.execute(
    db,
  );
}
