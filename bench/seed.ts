// Builds a planner-bench store in bulk SQL, never through the per-member API (10M members one by one would
// take hours): N profiles with user_ids, a static cohort holding them, and an acknowledged state in Braze
// (braze_identifiers) equal to the cohort minus 0.5% plus 0.5% stale ids — 1% churn.
//
// Member i (1..N) has profile id i and user_id `usr_` + a 10-digit bijective scramble of i, so key order
// is unrelated to profile order, as with real external ids. Members with i % 200 = 0 are not yet in Braze
// (the adds); profiles N+1 .. N+N/200 left the cohort but are still in Braze (the removes).
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';

// Ids as long as the service's own (src/domain/ids.ts: a prefix and 16 characters): they lead every key of
// plan_desired and braze_identifiers, so shorter ones would flatter the planner.
export const BENCH_PROJECT = 'prj_bench00000000000';
export const BENCH_COHORT = 'coh_bench00000000000';
export const BENCH_BRAZE_COHORT = 'bzc_bench00000000000';
export const BENCH_SYNC = 'syn_bench00000000000';
/** One member in CHURN_EVERY is missing from Braze, and as many stale ids are there: 0.5% + 0.5%. */
export const CHURN_EVERY = 200;

export interface SeedResult {
  readonly members: number;
  /** Planned adds and removes the planner must find. */
  readonly expectedAdds: number;
  readonly expectedRemoves: number;
  readonly seconds: number;
}

const staleCount = (n: number) => Math.floor(n / CHURN_EVERY);

/** The user_id of profile i, as SQL over an integer expression (same strings on both engines). */
const sqliteUserId = (i: string) => `printf('usr_%010d', (${i} * 2654435761) % 4294967296)`;
const pgUserId = (i: string) => `'usr_' || lpad(((${i}::bigint * 2654435761) % 4294967296)::text, 10, '0')`;

export async function seedStore(location: StoreLocation, members: number): Promise<SeedResult> {
  const started = performance.now();
  // Migrations through the real migrator, so the schema is exactly the service's.
  const store = await openStore(location);
  await store.close();
  if (location.kind === 'sqlite') seedSqlite(location.file, members);
  else await seedPostgres(location.url, location.schema!, members);
  const stale = staleCount(members);
  return {
    members,
    expectedAdds: Math.floor(members / CHURN_EVERY),
    expectedRemoves: stale,
    seconds: (performance.now() - started) / 1000,
  };
}

function seedSqlite(file: string, n: number): void {
  const db = new Database(file);
  try {
    // Bulk-load settings for this one connection only; the store opens with its own (WAL) afterwards.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576'); // 1 GiB while loading: random index inserts stay in memory
    const now = new Date().toISOString();
    const total = n + staleCount(n);
    const upTo = (limit: number) =>
      `with recursive s(i) as (select 1 union all select i + 1 from s where i < ${limit})`;
    db.transaction(() => {
      db.exec(`drop index profiles_user`);
      db.prepare(
        `insert into profiles (id, project_id, user_id, properties, created_at, updated_at)
         ${upTo(total)} select i, ?, ${sqliteUserId('i')}, '{}', ?, ? from s`,
      ).run(BENCH_PROJECT, now, now);
      db.exec(`create unique index profiles_user on profiles (project_id, user_id)`);
      db.prepare(
        `insert into cohort_members (cohort_id, profile_id) select ?, id from profiles where id <= ? order by id`,
      ).run(BENCH_COHORT, n);
      db.prepare(
        `insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at)
         select ?, 'e:' || user_id, id, 'run_seed000000000000', ? from profiles where (id <= ? and id % ${CHURN_EVERY} <> 0) or id > ?
         order by 'e:' || user_id`,
      ).run(BENCH_BRAZE_COHORT, now, n, n);
      // Settled, as a store whose last run finished would have them (src/adapters/store/acked-by-profile.ts).
      db.prepare(
        `insert into braze_identifier_profiles (braze_cohort_id, profile_id, ident_key)
         select braze_cohort_id, profile_id, ident_key from braze_identifiers order by 1, 2, 3`,
      ).run();
      insertCatalogRows((q, ...params) => db.prepare(q).run(...params), n, now);
    })();
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

/** The rows around the cohort the planner reads or updates: cohort, Braze cohort, sync. */
function insertCatalogRows(run: (q: string, ...params: unknown[]) => unknown, n: number, now: string): void {
  run(
    `insert into cohorts (id, project_id, name, type, definition, size, created_at, updated_at) values (?, ?, 'Bench', 'static', null, ?, ?, ?)`,
    BENCH_COHORT,
    BENCH_PROJECT,
    n,
    now,
    now,
  );
  run(
    `insert into braze_cohorts (id, project_id, workspace_key, cohort_id, named_as, created_at, fence, dirty, change_seq) values (?, ?, 'ws_bench000000000000', ?, null, ?, 0, 0, 0)`,
    BENCH_BRAZE_COHORT,
    BENCH_PROJECT,
    BENCH_COHORT,
    now,
  );
  run(
    `insert into syncs (id, project_id, cohort_id, target_id, braze_cohort_ref, cadence, cron, paused, notify_emails, next_run_at, created_at, updated_at)
     values (?, ?, ?, 'tgt_bench00000000000', ?, 'daily', null, 0, '[]', null, ?, ?)`,
    BENCH_SYNC,
    BENCH_PROJECT,
    BENCH_COHORT,
    BENCH_BRAZE_COHORT,
    now,
    now,
  );
}

async function seedPostgres(url: string, schema: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const now = new Date().toISOString();
    const total = n + staleCount(n);
    await client.query('set synchronous_commit = off');
    await client.query(`set maintenance_work_mem = '512MB'`);
    await client.query('begin');
    await client.query('drop index profiles_user');
    await client.query(
      `insert into profiles (id, project_id, user_id, properties, created_at, updated_at)
       select i, $1, ${pgUserId('i')}, '{}', $2, $2 from generate_series(1, $3::int) i`,
      [BENCH_PROJECT, now, total],
    );
    await client.query(`create unique index profiles_user on profiles (project_id, user_id)`);
    // Identity columns: later profiles (the incremental bench adds some) must not collide with seeded ids.
    await client.query(`select setval(pg_get_serial_sequence('profiles', 'id'), $1::int)`, [total]);
    await client.query(
      `insert into cohort_members (cohort_id, profile_id) select $1, id from profiles where id <= $2 order by id`,
      [BENCH_COHORT, n],
    );
    await client.query(
      `insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at)
       select $1, 'e:' || user_id, id, 'run_seed000000000000', $2 from profiles where (id <= $3 and id % ${CHURN_EVERY} <> 0) or id > $3
       order by 1, 2`,
      [BENCH_BRAZE_COHORT, now, n],
    );
    await client.query(
      `insert into braze_identifier_profiles (braze_cohort_id, profile_id, ident_key)
       select braze_cohort_id, profile_id, ident_key from braze_identifiers order by 1, 2, 3`,
    );
    let i = 0;
    const params = (q: string) => q.replace(/\?/g, () => `$${++i}`);
    await insertCatalogRowsAsync(
      async (q, ...values) => {
        i = 0;
        await client.query(params(q), values);
      },
      n,
      now,
    );
    await client.query('commit');
    // Stands for autovacuum having seen the tables, as it would have on a long-lived store.
    await client.query('analyze');
  } finally {
    await client.end();
  }
}

async function insertCatalogRowsAsync(
  run: (q: string, ...params: unknown[]) => Promise<void>,
  n: number,
  now: string,
): Promise<void> {
  const queued: [string, unknown[]][] = [];
  insertCatalogRows((q, ...params) => queued.push([q, params]), n, now);
  for (const [q, params] of queued) await run(q, ...params);
}
