// Opens the store on either engine behind one Kysely type. Only this file knows how to connect.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { busyRetryingDialect } from './busy-retry.ts';
import { type Engine, PREPARED, postgresDialect, type StoreDialect, sqliteDialect } from './dialect.ts';
import type { Database } from './schema.ts';
import { checkpointInBackground, withStatementCache } from './sqlite-performance.ts';

export type { Engine } from './dialect.ts';

export interface StoreDb {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** The engine's differences, for the repositories (src/adapters/store/dialect.ts). */
  readonly dialect: StoreDialect;
  close(): Promise<void>;
}

export type StoreLocation =
  /**
   * busyTimeoutMs: how long one attempt waits for another connection's lock before SQLITE_BUSY (default
   * 2.5 s); busy-retry.ts then tries 3 more times, so a request waits about 10 s in all before its 503.
   */
  | {
      kind: 'sqlite';
      file: string;
      busyTimeoutMs?: number;
      /**
       * Ingestion's writes on a worker thread (ingest-writer.ts). Off by default: it frees the main thread but
       * costs more CPU in all than it frees (docs/benchmarks.md "Ingestion").
       */
      ingestThread?: boolean;
    }
  | { kind: 'postgres'; url: string; schema?: string };

/** Pages of WAL (256 MB) past which a second connection checkpoints by itself after all. */
const SECOND_CONNECTION_AUTOCHECKPOINT_PAGES = 65_536;

/** checkpoints: false for a second connection to a file whose first one already checkpoints (ingest-writer.ts). */
export function openStoreDb(location: StoreLocation, opts: { checkpoints?: boolean } = {}): StoreDb {
  if (location.kind === 'sqlite') {
    if (location.file !== ':memory:') {
      // The store holds encrypted keys and token hashes: only the service's user may read it. SQLite gives
      // its -wal and -shm files the database file's permissions.
      mkdirSync(dirname(location.file), { recursive: true, mode: 0o700 });
      closeSync(openSync(location.file, 'a', 0o600));
    }
    const sqlite = new SqliteDatabase(location.file);
    sqlite.pragma('journal_mode = WAL');
    // Another process (a second `serve`, `migrate`, a crashed worker's successor) may hold the write lock briefly.
    // SQLite waits this long per attempt (blocking the event loop); busy-retry.ts retries with the loop free
    // in between, and only then does the error reach the HTTP layer as 503 + Retry-After.
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.trunc(location.busyTimeoutMs ?? 2_500))}`);
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('cache_size = -65536'); // 64 MiB page cache, bounded regardless of cohort size
    const secondConnection = opts.checkpoints === false;
    // A second connection leaves checkpoints to the first one's thread. SQLite's own (every 1,000 pages, inside
    // the COMMIT that crosses them: copying the WAL back and fsyncing on this connection's thread) held the
    // ingestion writer at ~15,000 events/s where it does ~21,000 without (docs/benchmarks.md, "Ingestion").
    // Kept only as a bound should that thread be gone: its RESTART keeps the WAL near RESTART_AT_PAGES.
    if (secondConnection) sqlite.pragma(`wal_autocheckpoint = ${SECOND_CONNECTION_AUTOCHECKPOINT_PAGES}`);
    const checkpointer =
      location.file === ':memory:' || secondConnection ? null : checkpointInBackground(sqlite, location.file);
    const dialect = busyRetryingDialect(new SqliteDialect({ database: withStatementCache(sqlite) }), sqlite);
    const db = new Kysely<Database>({ dialect });
    const close = async () => {
      await checkpointer?.stop();
      await db.destroy();
    };
    return { db, engine: 'sqlite', dialect: sqliteDialect, close };
  }
  // Required here, not imported at the top: the embedded store never needs the driver, and loading it is a
  // noticeable part of a process's start (docs/embedded-store.md, "Restart resumes at once").
  const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
  // int8 (counts) arrive as strings by default; our counts fit in a JS number.
  pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
  const pool = new pg.Pool({
    connectionString: location.url,
    max: 10,
    ...(location.schema ? { options: `-c search_path=${location.schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingPrepared(pool) }) });
  return { db, engine: 'postgres', dialect: postgresDialect, close: () => db.destroy() };
}

/**
 * Statements whose text starts with PREPARED (dialect.ts) run as named prepared statements: each connection
 * parses, analyses and plans them once, then only binds and executes (the big per-request statements of
 * ingestion). Names come from a process-wide map of those texts, so there are as many as there are marked
 * statements in the code; every other text runs unnamed as before.
 */
function namingPrepared<P extends import('pg').Pool>(pool: P): P {
  const names = new Map<string, string>();
  const patched = new WeakSet<object>();
  const connect = pool.connect.bind(pool) as () => Promise<import('pg').PoolClient>;
  const wrapped = async () => {
    const client = await connect();
    if (!patched.has(client)) {
      patched.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((text: unknown, ...rest: unknown[]) => {
        if (typeof text !== 'string' || !text.startsWith(PREPARED)) return query(text, ...rest);
        let name = names.get(text);
        if (name === undefined) {
          name = `cs_prepared_${names.size}`;
          names.set(text, name);
        }
        return query({ name, text, values: rest[0] });
      }) as typeof client.query;
    }
    return client;
  };
  return Object.assign(pool, { connect: wrapped });
}
