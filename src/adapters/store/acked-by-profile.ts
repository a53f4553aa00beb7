// The acknowledged identifiers of a profile, without an index that every acknowledgement writes at random.
//
// braze_identifiers is keyed by (braze cohort, key): a delivered batch, being a key-ordered page of a plan,
// appends to it. Looking identifiers up by profile needs a second order, and an index in that order took one
// random page write per acknowledged identifier — the cost that held SQLite's delivery to a third of Braze's
// cap (docs/benchmarks.md). So acknowledgements only mark their rows unsettled (a partial index appended in
// row order), and `settle` copies unsettled rows into braze_identifier_profiles in profile order — one sorted
// pass — when a plan is about to look profiles up. Lookups read both: the settled copy (verified against
// braze_identifiers, so an entry left behind by a re-acknowledgement or a merge is never believed) and the
// unsettled rows. docs/embedded-store.md describes the scheme.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from './schema.ts';

/**
 * SELECT of (ident_key, profile_id, run_id, acked_at) acknowledged in Braze cohort `bc` for the profiles of
 * `profiles` (a subquery of profile ids, or a list of values).
 */
export function ackedOfProfiles(bc: RawBuilder<unknown>, profiles: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`select a.ident_key, a.profile_id, a.run_id, a.acked_at from braze_identifier_profiles x
      join braze_identifiers a on a.braze_cohort_id = x.braze_cohort_id and a.ident_key = x.ident_key
      where x.braze_cohort_id = ${bc} and x.profile_id in (${profiles}) and a.profile_id = x.profile_id and a.settled = 1
    union all
    select a.ident_key, a.profile_id, a.run_id, a.acked_at from braze_identifiers a
      where a.braze_cohort_id = ${bc} and a.settled = 0 and a.profile_id in (${profiles})`;
}

/** Whether profile `profile` (an SQL expression) has any identifier acknowledged in Braze cohort `bc`. */
export function hasAcked(bc: RawBuilder<unknown>, profile: RawBuilder<unknown>): RawBuilder<boolean> {
  return sql`(exists (select 1 from braze_identifier_profiles x
      join braze_identifiers a on a.braze_cohort_id = x.braze_cohort_id and a.ident_key = x.ident_key
      where x.braze_cohort_id = ${bc} and x.profile_id = ${profile} and a.profile_id = x.profile_id and a.settled = 1)
    or exists (select 1 from braze_identifiers a where a.braze_cohort_id = ${bc} and a.settled = 0 and a.profile_id = ${profile}))`;
}

/**
 * Copies Braze cohort `bc`'s unsettled acknowledgements into braze_identifier_profiles, in profile order so
 * the index is written page by page rather than at random, and marks them settled. Only the cohort's lease
 * holder acknowledges into it, and it settles before planning, so no acknowledgement races this.
 */
export async function settle(db: Kysely<Database>, bc: string): Promise<number> {
  return db.transaction().execute(async (tx) => {
    await sql`insert into braze_identifier_profiles (braze_cohort_id, profile_id, ident_key)
      select braze_cohort_id, profile_id, ident_key from braze_identifiers
      where braze_cohort_id = ${bc} and settled = 0 and profile_id is not null
      order by profile_id, ident_key
      on conflict (braze_cohort_id, profile_id, ident_key) do nothing`.execute(tx);
    const r = await sql`update braze_identifiers set settled = 1 where braze_cohort_id = ${bc} and settled = 0`.execute(
      tx,
    );
    return Number(r.numAffectedRows ?? 0);
  });
}
