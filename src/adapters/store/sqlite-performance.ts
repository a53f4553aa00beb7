// Two things that keep SQLite's single connection (which runs on the event loop) doing useful work:
//   • a statement cache: Kysely prepares every query it runs, and preparing costs as much as running a
//     short statement; the same SQL text reuses its prepared statement;
//   • WAL checkpoints on a thread of their own: SQLite's automatic checkpoint runs inside the COMMIT that
//     crosses the threshold — copying the WAL back into the database file and fsyncing it on the event loop,
//     which under sustained ingestion was half of each request's time (docs/benchmarks.md, "Ingestion"). A
//     worker thread with its own connection checkpoints instead, concurrently with the writer (PASSIVE).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';

/** Distinct SQL texts kept prepared (statements with literal values inlined vary; the cache stays bounded). */
const STATEMENT_CACHE_SIZE = 500;

/** The connection as Kysely's SqliteDialect sees it, preparing each distinct SQL text once. */
export function withStatementCache(db: SqliteDatabase.Database): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => db.close(),
    prepare: (text: string) => {
      let statement = cache.get(text);
      if (statement) {
        // Most recently used last, so the first key is the one to evict.
        cache.delete(text);
      } else {
        statement = db.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, statement);
      return statement as unknown as ReturnType<KyselySqliteDatabase['prepare']>;
    },
  };
}

/** How often the checkpointer copies committed WAL frames back into the database file. */
export const CHECKPOINT_EVERY_MS = 250;
/**
 * A WAL this large (pages, 32 MB) is restarted even if that makes the writer wait: a PASSIVE checkpoint never
 * catches up with a writer that does not pause, and SQLite only starts the WAL over once one has, so under
 * sustained ingestion the file would otherwise grow without end. The PASSIVE passes have copied most frames
 * by then, so the RESTART holds the writer only for the rest and an fsync.
 */
const RESTART_AT_PAGES = 8_192;

// The worker's body, plain JavaScript (it runs outside tsx). It owns a connection to the same file.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
let timer;
const tick = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.log >= workerData.restartAt) db.pragma('wal_checkpoint(RESTART)');
  } catch {
    // Busy: the next tick tries again.
  }
  timer = setTimeout(tick, workerData.everyMs);
};
timer = setTimeout(tick, workerData.everyMs);
parentPort.on('message', () => {
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * A store open this long gets the checkpoint thread; until then SQLite checkpoints for itself. Starting a
 * thread costs ~60 ms of loading, which short-lived stores (CLI commands, tests) need not pay.
 */
const START_AFTER_MS = 2_000;

/**
 * Turns the connection's automatic checkpoints off and checkpoints from a worker thread instead, once the
 * store has been open for START_AFTER_MS. A file database only (`:memory:` has no WAL).
 */
export function checkpointInBackground(db: SqliteDatabase.Database, file: string): Checkpointer {
  let worker: Worker | null = null;
  let exited: Promise<void> = Promise.resolve();
  const start = () => {
    if (!db.open) return;
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { module, file, everyMs: CHECKPOINT_EVERY_MS, restartAt: RESTART_AT_PAGES },
    });
    w.unref();
    exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    db.pragma('wal_autocheckpoint = 0');
    w.once('error', () => {
      // No checkpointer: the connection checkpoints for itself again, as SQLite does by default.
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    });
    worker = w;
  };
  const timer = setTimeout(start, START_AFTER_MS);
  timer.unref();
  return {
    stop: () => {
      clearTimeout(timer);
      if (worker) {
        worker.ref(); // kept alive until it has closed its connection
        worker.postMessage('stop');
      }
      return exited;
    },
  };
}
