// Every difference between the two engines the store runs on, in one object per engine (issue 7): the
// repositories write the SQL the engines share and ask their dialect for the rest, never `if (engine …)`.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { boundValue, paddedRowCount } from './bound-batch.ts';
import type { Database } from './schema.ts';

export type Engine = 'sqlite' | 'postgres';

/**
 * Leading comment of a statement that PostgreSQL should keep prepared per connection (db.ts): for statements
 * of a fixed text run on every request, whose plan does not depend on the values (a generic plan is as good).
 * Never for `= any(array)` tests: their generic plan compares every row with every element (~25 ms where the
 * custom plan took 1.5). SQLite prepares every text once anyway (sqlite-performance.ts).
 */
export const PREPARED = '/* prepared */ ';

/** A column reference or any SQL expression yielding JSON text. */
type Json = RawBuilder<unknown>;

/**
 * A batch of rows as the FROM of an INSERT … SELECT: `select value(0), json(1) … from ${from} where ${present}`.
 * Element i of a row as SQL text or number (null → NULL) or as JSON text (objects kept as objects).
 */
export interface RowSource {
  readonly from: RawBuilder<unknown>;
  /** The WHERE condition that keeps the rows given (SQLite pads the batch with rows whose first value is NULL). */
  readonly present: RawBuilder<boolean>;
  value(i: number): RawBuilder<unknown>;
  json(i: number): RawBuilder<unknown>;
}

export interface StoreDialect {
  readonly engine: Engine;

  // ---- DDL -------------------------------------------------------------------------------------------
  /** Column type of an auto-numbered integer primary key. */
  readonly identityColumn: string;
  /** Column type of identifier keys: compared byte-wise on both engines, so key order is the same. */
  readonly keyTextColumn: string;
  /** Table option for tables that are only their primary key (SQLite stores them as that index alone). */
  readonly withoutRowid: string;
  /**
   * CREATE for a scratch table of one operation (an upload's staged members): SQLite's temp tables live on
   * the one connection and never reach the WAL; PostgreSQL's unlogged tables are seen by every pooled
   * connection and skip its WAL.
   */
  readonly createScratchTable: string;

  // ---- Transactions ------------------------------------------------------------------------------------
  /** BEGIN that takes the write lock up front where the engine needs it (SQLite), else a plain BEGIN. */
  readonly beginWrite: string;
  /** Serialises migrations across processes, inside the transaction begun with beginWrite. */
  lockMigrations(conn: Kysely<Database>): Promise<void>;

  // ---- JSON (columns hold JSON as text on both engines) ------------------------------------------------
  /** Text of top-level `key` of JSON object `json`: strings unquoted, numbers and booleans as written, else null. */
  jsonText(json: Json, key: string): RawBuilder<string | null>;
  /**
   * Top-level `key` of `json` as the engine's `->>` reads it: a string's text unquoted, other values as some
   * text. One parse of the JSON, where jsonType and jsonText cost two or three: a cheap first test that a
   * string equality needs, so most events of a condition's type are refused after it.
   */
  jsonArrow(json: Json, key: string): RawBuilder<string | null>;
  /** JSON type of top-level `key`: 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array', or null. */
  jsonType(json: Json, key: string): RawBuilder<string | null>;
  /** Numeric value of top-level `key` when it is a JSON number, else null (behavioral conditions). */
  jsonNumber(json: Json, key: string): RawBuilder<number | null>;
  /** `text` compared in byte order (SQLite's BINARY; PostgreSQL's "C" collation). */
  byteOrder(text: RawBuilder<unknown>): RawBuilder<string>;
  /** Makes the current transaction hold `cohorts` row `id` until it ends (PostgreSQL; SQLite has one writer). */
  readonly forUpdate: RawBuilder<unknown>;
  /**
   * Inside an acknowledgement's transaction: whether the lease of Braze cohort `id` still carries `fence`,
   * holding it so no newer fence can be taken before this transaction ends.
   */
  holdFence(tx: Kysely<Database>, id: string, fence: number): Promise<boolean>;
  /**
   * Inside a full behavioral evaluation's transaction: room for the hashed sets of profile ids it builds
   * (PostgreSQL would otherwise fall back to rescanning a set per profile once one outgrows work_mem).
   */
  beforeBulkEvaluation(tx: Kysely<Database>): Promise<void>;
  /** Rows (k, p) from parallel arrays of keys and nullable integers, passed as one parameter. */
  pairRows(keys: readonly string[], ints: readonly (number | null)[]): RawBuilder<{ k: string; p: number | null }>;
  /** Rows (value) of text values, passed as one parameter. */
  textRows(values: readonly string[]): RawBuilder<{ value: string }>;
  /** Rows (value) of integers, passed as one parameter. */
  intRows(values: readonly number[]): RawBuilder<{ value: number }>;
  /**
   * Whether `column` is one of `values` (one parameter), as a condition the column's index serves: PostgreSQL
   * would hash-join a row set against the whole table instead (`= any` probes the index per value).
   */
  inTexts(column: RawBuilder<unknown>, values: readonly string[]): RawBuilder<boolean>;
  /**
   * The rows of `table` in project `projectId` whose unique text key `key` is one of `values` (one parameter),
   * as a SELECT of `columns`, planned as one index probe per value whatever the statistics say. On PostgreSQL
   * `key = any(array)` without statistics (a young table) read every row of the project and tested each
   * against the array (~2x the backend CPU of the probes at 5,000 profiles, more as a project grows), and a
   * join on unnest() hashed the whole project; a LATERAL probe behind LIMIT 1 cannot be flattened into either.
   */
  probeKeys(q: {
    table: 'profiles' | 'profile_devices';
    key: string;
    projectId: string;
    values: readonly string[];
    columns: readonly string[];
  }): RawBuilder<Record<string, unknown>>;
  /** Rows of values (objects as JSON text) as the row source of a batch INSERT … SELECT (see RowSource). */
  rowSource(rows: readonly (readonly unknown[])[]): RowSource;
  /**
   * Whether a statement that writes many rows and may fail midway makes the engine keep a statement journal
   * (SQLite copies each page it changes first, unless the statement's conflict clause is OR FAIL or OR
   * IGNORE). Ingestion then writes with those clauses: INSERT OR IGNORE … RETURNING for dedupe keys, with
   * expired keys renewed by an UPDATE apart, instead of an upsert.
   */
  readonly statementJournals: boolean;
  /**
   * Whether an acknowledgement first tries a plain INSERT of its identifiers, guarded by "no acknowledged key
   * of this Braze cohort lies between the batch's first and last key", before the upsert. PostgreSQL's
   * ON CONFLICT costs a speculative insertion per row (about 4 ms of backend CPU per 1,000 identifiers, almost
   * half the acknowledgement), and in a first sync the guard always holds; SQLite's upsert costs no more than
   * its insert.
   */
  readonly insertsAckedFirst: boolean;
  /**
   * Whether ingestion claims a batch's dedupe keys with a plain INSERT first, rerunning its transaction with
   * the upsert only when one key is already there (event-repo.ts freshKeys): on PostgreSQL, ON CONFLICT probes
   * the key's index once more per row; SQLite claims them with INSERT OR IGNORE, which costs no more.
   */
  readonly claimsKeysPlainly: boolean;
  /** The ON CONFLICT target of event_dedupe's unique key. */
  readonly dedupeKey: string;
  /** A DELETE of at most `limit` dedupe keys recorded before `beforeMs` (the pruner's batch). */
  expiredKeys(beforeMs: number, limit: number): RawBuilder<unknown>;

  // ---- Text --------------------------------------------------------------------------------------------
  /** Whether `haystack` contains `needle` (a plain substring, no pattern characters). */
  contains(haystack: RawBuilder<unknown>, needle: string): RawBuilder<boolean>;

  // ---- Planning ----------------------------------------------------------------------------------------
  /**
   * Runs a bulk staging `body` with the engine's settings for large sorts; SQLite lets its sorter use helper
   * threads sharing the cache budget (docs/benchmarks.md), PostgreSQL needs nothing.
   */
  withBulkSort<T>(tx: Kysely<Database>, body: () => Promise<T>): Promise<T>;
  /** After staging: refreshes the statistics the engine plans the staged table's pages from (PostgreSQL). */
  afterStaging(db: Kysely<Database>): Promise<void>;
  /**
   * Whether key-ordered anti-joins are cheaper as a compound EXCEPT (SQLite merges two ordered scans) than as
   * NOT EXISTS probes (PostgreSQL's planner already chooses a streaming anti-join).
   */
  readonly mergesExcept: boolean;
  /**
   * Whether write transactions run one at a time whatever the callers do (SQLite's single writer), so that
   * concurrent ingestion requests lose nothing by sharing one (src/adapters/store/group-commit.ts).
   */
  readonly singleWriter: boolean;
  /** Deletes a run's staged rows; SQLite drops the table's pages whole when no other run has rows staged. */
  clearStaged(db: Kysely<Database>, runId: string): Promise<void>;
  /**
   * The highest member_changes seq such that every change at or below it is visible, or null when that cannot
   * be known now (the caller then plans in full).
   */
  changeHighWater(db: Kysely<Database>): Promise<number | null>;
}

/**
 * event_dedupe's unique key on PostgreSQL (migration 0210): one uuid, the md5 of project, scope and insert_id
 * length-prefixed so that no two keys share a text, instead of the three texts. The index is a quarter of the
 * size (16 bytes a key where the texts took ~80; 57 MB for 431k keys inserted at random places), so more of
 * it stays cached, and its comparisons are one memcmp where each text went through the collation.
 */
export const PG_DEDUPE_KEY =
  "(md5(length(project_id)::text || ':' || project_id || length(scope)::text || ':' || scope || insert_id)::uuid)";

const maxSeq = async (db: Kysely<Database>): Promise<number> => {
  const r = await sql<{ n: number | null }>`select max(seq) as n from member_changes`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
};

/** SQLite's JSON path for a top-level key, quoted so any key text is taken literally. */
const sqlitePath = (key: string): string => `$."${key.replace(/"/g, '\\"')}"`;

/** U+001E (chr(30)), which JSON.stringify never leaves unescaped inside a JSON text. */
const JSON_SEPARATOR = '\u001e';

/**
 * PostgreSQL's row source: one text[] parameter per column, unnested side by side. A JSON array of rows
 * (json_array_elements) made the server lex each row's JSON again for every element read (`->> i` on json
 * re-parses from the start): about a sixth of the backends' CPU per ingested event (perf, docs/benchmarks.md
 * "Ingestion"). Array literals are parsed once; casts in the statement give the columns their types.
 */
function columnArrays(rows: readonly (readonly unknown[])[]): RowSource {
  const width = rows[0]?.length ?? 0;
  const columns = Array.from({ length: width }, (_, c) => {
    // A column of objects (JSON) travels as one text, the values joined by U+001E and split by the server:
    // JSON.stringify escapes every control character, so the separator never occurs inside a value, and
    // string_to_array copies the pieces as they are, where an array literal made the driver escape and the
    // server unescape every quote of every value.
    if (rows.length > 0 && rows.every((row) => typeof row[c] === 'object' && row[c] !== null))
      return sql`string_to_array(${rows.map((row) => JSON.stringify(row[c])).join(JSON_SEPARATOR)}::text, chr(30))`;
    const values = rows.map((row) => {
      const v = row[c];
      return v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
    return sql`${values}::text[]`;
  });
  const names = columns.map((_, c) => `c${c}`).join(', ');
  return {
    from: sql`unnest(${sql.join(columns)}) as ${sql.raw(`j(${names})`)}`,
    present: sql<boolean>`true`,
    value: (i) => sql.raw(`j.c${i}`),
    json: (i) => sql.raw(`j.c${i}`),
  };
}

/**
 * SQLite's row source: the values bound one per placeholder in a VALUES list (reading them back out of one
 * JSON parameter with json_each cost more than binding them, docs/benchmarks.md "Ingestion"). The list is
 * padded with NULL rows to a power of two, so a handful of statement texts serve every batch size and each
 * stays prepared (sqlite-performance.ts); `present` skips the padding, so a row's first value is never NULL.
 */
function boundRows(rows: readonly (readonly unknown[])[]): RowSource {
  const width = rows[0]?.length ?? 1;
  const size = paddedRowCount(rows.length);
  const padding = Array.from({ length: width }, () => null);
  const list = Array.from({ length: size }, (_, r) => {
    const row = rows[r] ?? padding;
    return sql`(${sql.join(row.map(boundValue))})`;
  });
  return {
    from: sql`(values ${sql.join(list)}) j`,
    present: sql<boolean>`j.column1 is not null`,
    value: (i) => sql.raw(`j.column${i + 1}`),
    json: (i) => sql.raw(`j.column${i + 1}`),
  };
}

/** Helper threads SQLite's sorter may use while staging (PRAGMA threads). */
const SORT_THREADS = 2;

export const sqliteDialect: StoreDialect = {
  engine: 'sqlite',
  identityColumn: 'integer primary key autoincrement',
  keyTextColumn: 'text',
  withoutRowid: ' without rowid',
  createScratchTable: 'create temp table',
  beginWrite: 'begin immediate',
  // BEGIN IMMEDIATE already holds the single write lock; other processes wait on busy_timeout.
  lockMigrations: async () => undefined,

  jsonText: (json, key) => {
    const path = sqlitePath(key);
    // -> returns a number's JSON text as written; a cast would print 1e+21 as 1.0e+21.
    return sql`(case json_type(${json}, ${path})
      when 'text' then json_extract(${json}, ${path})
      when 'integer' then ${json} -> ${path}
      when 'real' then ${json} -> ${path}
      when 'true' then 'true' when 'false' then 'false' end)`;
  },
  jsonArrow: (json, key) => sql`(${json} ->> ${sqlitePath(key)})`,
  jsonType: (json, key) => {
    const path = sqlitePath(key);
    return sql`(case json_type(${json}, ${path})
      when 'text' then 'string' when 'integer' then 'number' when 'real' then 'number'
      when 'true' then 'boolean' when 'false' then 'boolean' else json_type(${json}, ${path}) end)`;
  },
  jsonNumber: (json, key) => {
    const path = sqlitePath(key);
    return sql`(case when json_type(${json}, ${path}) in ('integer', 'real') then json_extract(${json}, ${path}) end)`;
  },
  byteOrder: (text) => sql`${text}`,
  forUpdate: sql``,
  // An UPDATE takes the single write lock now; acknowledgements run one at a time anyway.
  holdFence: async (tx, id, fence) => {
    const r = await sql`update braze_cohorts set fence = ${fence} where id = ${id} and fence = ${fence}`.execute(tx);
    return Number(r.numAffectedRows ?? 0) > 0;
  },
  beforeBulkEvaluation: async () => undefined,
  pairRows: (keys, ints) =>
    sql`select j.value ->> 0 as k, j.value ->> 1 as p from json_each(${JSON.stringify(keys.map((k, i) => [k, ints[i] ?? null]))}) j`,
  textRows: (values) => sql`select value from json_each(${JSON.stringify(values)})`,
  inTexts: (column, values) => sql`${column} in (select value from json_each(${JSON.stringify(values)}))`,
  intRows: (values) => sql`select value from json_each(${JSON.stringify(values)})`,
  probeKeys: ({ table, key, projectId, values, columns }) =>
    sql`select ${sql.join(columns.map((c) => sql.ref(`t.${c}`)))} from ${sql.table(table)} t
      where t.project_id = ${projectId} and ${sql.ref(`t.${key}`)} in (select value from json_each(${JSON.stringify(values)}))`,
  rowSource: (rows) => boundRows(rows),
  statementJournals: true,
  insertsAckedFirst: false,
  claimsKeysPlainly: false,
  dedupeKey: '(project_id, scope, insert_id)',
  expiredKeys: (beforeMs, limit) => sql`delete from event_dedupe where (project_id, scope, insert_id) in (
      select project_id, scope, insert_id from event_dedupe where at_ms < ${beforeMs} limit ${limit})`,

  contains: (haystack, needle) => sql`(instr(${haystack}, ${needle}) > 0)`,

  withBulkSort: async (tx, body) => {
    // The sorter's threads each buffer up to cache_size, so the cache budget is shared among them for the
    // transaction; staging only appends, so the smaller page cache costs nothing.
    const cache = Number(
      (await sql<{ cache_size: number }>`pragma cache_size`.execute(tx)).rows[0]?.cache_size ?? -2000,
    );
    const threads = Number((await sql<{ threads: number }>`pragma threads`.execute(tx)).rows[0]?.threads ?? 0);
    await sql.raw(`pragma threads = ${SORT_THREADS}`).execute(tx);
    await sql.raw(`pragma cache_size = ${Math.trunc(cache / (SORT_THREADS + 1))}`).execute(tx);
    try {
      return await body();
    } finally {
      await sql.raw(`pragma cache_size = ${cache}`).execute(tx);
      await sql.raw(`pragma threads = ${threads}`).execute(tx);
    }
  },
  afterStaging: async () => undefined,
  mergesExcept: true,
  singleWriter: true,
  clearStaged: async (db, runId) => {
    // Deleting millions of rows one by one costs as much as staging them. When no other run has rows staged,
    // an unqualified DELETE lets SQLite drop the table's pages whole (its truncate optimisation). BEGIN
    // IMMEDIATE takes the write lock before the check, so no other process can stage rows in between.
    await db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const others = await sql<{ lo: number; hi: number }>`select
          exists (select 1 from plan_desired where run_id < ${runId}) as lo,
          exists (select 1 from plan_desired where run_id > ${runId}) as hi`.execute(conn);
        const row = others.rows[0];
        if (row && !row.lo && !row.hi) await sql`delete from plan_desired`.execute(conn);
        else await sql`delete from plan_desired where run_id = ${runId}`.execute(conn);
        await sql`commit`.execute(conn);
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw error;
      }
    });
  },
  // One writer at a time: a visible seq is never followed by an earlier one committing later.
  changeHighWater: (db) => maxSeq(db),
};

export const postgresDialect: StoreDialect = {
  engine: 'postgres',
  identityColumn: 'integer generated by default as identity primary key',
  keyTextColumn: 'text collate "C"',
  withoutRowid: '',
  createScratchTable: 'create unlogged table',
  beginWrite: 'begin',
  lockMigrations: async (conn) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`.execute(conn);
  },

  // json (unlike jsonb) keeps number literals as written, so ->> returns String(n) for numbers JSON.stringify wrote.
  jsonText: (json, key) => sql`(case json_typeof((${json})::json -> ${key}::text)
      when 'string' then (${json})::json ->> ${key}::text
      when 'number' then (${json})::json ->> ${key}::text
      when 'boolean' then (${json})::json ->> ${key}::text end)`,
  jsonArrow: (json, key) => sql`((${json})::json ->> ${key}::text)`,
  jsonType: (json, key) => sql`json_typeof((${json})::json -> ${key}::text)`,
  jsonNumber: (json, key) => sql`(case when json_typeof((${json})::json -> ${key}::text) = 'number'
      then ((${json})::json ->> ${key}::text)::numeric end)`,
  byteOrder: (text) => sql`(${text} collate "C")`,
  forUpdate: sql` for update`,
  // FOR SHARE, not an UPDATE: a fence bump (acquireLease) waits for the acknowledgements in progress, but
  // those of one Braze cohort's concurrent batches no longer wait for each other — an exclusive row lock held
  // to each commit serialised them, which capped delivery below Braze's rate (docs/benchmarks.md).
  holdFence: async (tx, id, fence) => {
    const r = await sql`select 1 as held from braze_cohorts where id = ${id} and fence = ${fence} for share`.execute(
      tx,
    );
    return r.rows.length > 0;
  },
  beforeBulkEvaluation: async (tx) => {
    await sql`set local work_mem = '256MB'`.execute(tx);
  },
  pairRows: (keys, ints) => sql`select t.k, t.p from unnest(${[...keys]}::text[], ${[...ints]}::integer[]) as t(k, p)`,
  textRows: (values) => sql`select unnest(${[...values]}::text[]) as value`,
  inTexts: (column, values) => sql`${column} = any(${[...values]}::text[])`,
  intRows: (values) => sql`select unnest(${[...values]}::int[]) as value`,
  probeKeys: ({ table, key, projectId, values, columns }) =>
    sql`select ${sql.join(columns.map((c) => sql.ref(`t.${c}`)))} from unnest(${[...values]}::text[]) k(v)
      cross join lateral (select ${sql.join(columns.map((c) => sql.ref(`x.${c}`)))} from ${sql.table(table)} x
        where x.project_id = ${projectId} and ${sql.ref(`x.${key}`)} = k.v limit 1) t`,
  rowSource: (rows) => columnArrays(rows),
  statementJournals: false,
  insertsAckedFirst: true,
  claimsKeysPlainly: true,
  dedupeKey: `(${PG_DEDUPE_KEY})`,
  // By row address: the key is an expression, which the texts in the subquery would not probe.
  expiredKeys: (beforeMs, limit) => sql`delete from event_dedupe where ctid = any (array(
      select ctid from event_dedupe where at_ms < ${beforeMs} limit ${limit}))`,

  contains: (haystack, needle) => sql`(strpos(${haystack}, ${needle}) > 0)`,

  withBulkSort: (_tx, body) => body(),
  // Without statistics (every first run, before autovacuum looked) PostgreSQL plans the pages from a table it
  // believes tiny and reads every remaining staged row for each page: quadratic.
  afterStaging: async (db) => {
    await sql`analyze plan_desired`.execute(db);
  },
  mergesExcept: false,
  singleWriter: false,
  clearStaged: async (db, runId) => {
    await db.deleteFrom('plan_desired').where('run_id', '=', runId).execute();
  },
  // PostgreSQL hands out seqs before commit: seq 100 may commit after seq 101. SHARE mode waits for every
  // transaction that is writing member_changes to end, so everything at or below the max we then read is
  // visible. A writer that holds on (a long CSV import) makes us give up after half a second — before
  // PostgreSQL's deadlock check (1 s) could pick a writer as its victim: the caller plans in full instead.
  changeHighWater: async (db) => {
    try {
      return await db.transaction().execute(async (tx) => {
        await sql`set local lock_timeout = '500ms'`.execute(tx);
        await sql`lock table member_changes in share mode`.execute(tx);
        return maxSeq(tx);
      });
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return null; // lock_not_available
      throw error;
    }
  },
};

const MIGRATION_LOCK_ID = 7_241_986_113; // arbitrary, constant: "cohort-sync migrations"

export const dialectOf = (engine: Engine): StoreDialect => (engine === 'postgres' ? postgresDialect : sqliteDialect);
