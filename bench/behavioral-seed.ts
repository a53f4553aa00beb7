// Seeds a behavioral-evaluation bench store in bulk SQL: U profiles (ids 1..U) with user properties and E
// events spread over the last 60 days (10% Purchase with a plan and an amount, 60% Open, 30% View), each
// profile getting E/U events. Indexes are dropped while loading and built once after, as a bulk load would.
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';

export const BEHAV_PROJECT = 'prj_behavbench000000';
const DAYS_60 = 60 * 86_400_000;

const EVENT_INDEXES = [
  'create index events_type_time on events (project_id, event_type, time_ms)',
  'create index events_profile on events (profile_id, event_type, time_ms)',
  'create index events_time on events (project_id, time_ms)',
];

// The same rows on both engines: integer arithmetic only (h is a multiplicative hash of the row number).
const type = (h: string) => `case when ${h} < 10 then 'Purchase' when ${h} < 70 then 'Open' else 'View' end`;
const eventProps = (i: string, h: string, concat: (...p: string[]) => string) =>
  `case when ${h} < 10 then ${concat(`'{"plan":"'`, `case when (${i} / 7) % 3 = 0 then 'pro' else 'free' end`, `'","amount":'`, `(${i} % 50)`, `'}'`)} else '{}' end`;
const userProps = (i: string, concat: (...p: string[]) => string) =>
  concat(
    `'{"country":"'`,
    `case ${i} % 5 when 0 then 'FR' when 1 then 'US' when 2 then 'DE' when 3 then 'ES' else 'BR' end`,
    `'","plan":"'`,
    `case when ${i} % 4 = 0 then 'pro' else 'free' end`,
    `'"}'`,
  );

export async function seedBehavioral(location: StoreLocation, users: number, events: number, nowMs: number) {
  const started = performance.now();
  const store = await openStore(location);
  await store.close();
  if (location.kind === 'sqlite') seedSqlite(location.file, users, events, nowMs);
  else await seedPostgres(location.url, location.schema!, users, events, nowMs);
  return (performance.now() - started) / 1000;
}

function seedSqlite(file: string, users: number, events: number, nowMs: number) {
  const db = new Database(file);
  const concat = (...p: string[]) => p.join(' || ');
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576');
    const now = new Date(nowMs).toISOString();
    const upTo = (n: number) => `with recursive s(i) as (select 0 union all select i + 1 from s where i < ${n - 1})`;
    db.transaction(() => {
      db.prepare(
        `insert into projects (id, name, ingest_key_enc, ingest_key_hash, created_at, updated_at) values (?, 'Bench', 'x', 'behav-bench', ?, ?)`,
      ).run(BEHAV_PROJECT, now, now);
      db.exec('drop index profiles_user');
      db.prepare(
        `insert into profiles (id, project_id, user_id, properties, created_at, updated_at)
         ${upTo(users)} select i + 1, ?, 'u' || (i + 1), ${userProps('i', concat)}, ?, ? from s`,
      ).run(BEHAV_PROJECT, now, now);
      db.exec('create unique index profiles_user on profiles (project_id, user_id)');
      for (const idx of ['events_type_time', 'events_profile', 'events_time']) db.exec(`drop index ${idx}`);
      const h = '((i * 2654435761) % 100)';
      db.prepare(
        `insert into events (project_id, profile_id, event_type, time_ms, event_properties, data, received_ms)
         ${upTo(events)} select ?, (i % ${users}) + 1, ${type(h)}, ${nowMs} - ((i * 40503) % ${DAYS_60}),
           ${eventProps('i', h, concat)}, '{}', ${nowMs} from s`,
      ).run(BEHAV_PROJECT);
      for (const idx of EVENT_INDEXES) db.exec(idx);
    })();
    db.exec('analyze');
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

async function seedPostgres(url: string, schema: string, users: number, events: number, nowMs: number) {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  const concat = (...p: string[]) => p.map((x) => `(${x})::text`).join(' || ');
  await client.connect();
  try {
    const now = new Date(nowMs).toISOString();
    await client.query('set synchronous_commit = off');
    await client.query(`set maintenance_work_mem = '512MB'`);
    await client.query('begin');
    await client.query(
      `insert into projects (id, name, ingest_key_enc, ingest_key_hash, created_at, updated_at) values ($1, 'Bench', 'x', 'behav-bench', $2, $2)`,
      [BEHAV_PROJECT, now],
    );
    await client.query('drop index profiles_user');
    await client.query(
      `insert into profiles (id, project_id, user_id, properties, created_at, updated_at)
       select i + 1, $1, 'u' || (i + 1), ${userProps('i', concat)}, $2, $2 from generate_series(0, $3::int - 1) i`,
      [BEHAV_PROJECT, now, users],
    );
    await client.query('create unique index profiles_user on profiles (project_id, user_id)');
    await client.query(`select setval(pg_get_serial_sequence('profiles', 'id'), $1::int)`, [users]);
    // events_time is gone on PostgreSQL since migration 0180 (recreated below with the others, as the seed's
    // index set is one list for both engines).
    for (const idx of ['events_type_time', 'events_profile', 'events_time'])
      await client.query(`drop index if exists ${idx}`);
    const h = '((i::bigint * 2654435761) % 100)';
    await client.query(
      `insert into events (project_id, profile_id, event_type, time_ms, event_properties, data, received_ms)
       select $1, (i % ${users}) + 1, ${type(h)}, ${nowMs}::bigint - ((i::bigint * 40503) % ${DAYS_60}),
         ${eventProps('i', h, concat)}, '{}', ${nowMs}::bigint from generate_series(0, $2::int - 1) i`,
      [BEHAV_PROJECT, events],
    );
    for (const idx of EVENT_INDEXES) await client.query(idx);
    await client.query('commit');
    // What autovacuum does soon after a bulk load, done now so the timed evaluations read the steady state: the
    // first pass over never-vacuumed pages otherwise writes every page's hint bits (58 s against 8.6 s).
    await client.query('vacuum analyze');
  } finally {
    await client.end();
  }
}
