// SQLite busy handling (docs/security.md, "Store under load"). Another connection — a `migrate`, a second
// process during a hand-over, an operator's sqlite3 shell — may hold the single write lock. SQLite's own
// busy_timeout waits for it, synchronously on the event loop; past it we retry a few times ourselves with
// jittered backoff, the event loop free in between, and only then let SQLITE_BUSY reach the HTTP layer (503).
//
// Retrying is safe only where the busy statement changed nothing and nothing before it in a transaction did:
//   • transactions begin IMMEDIATE, so they take the write lock first — busy can only happen at BEGIN,
//     before any work, and no statement inside them meets a busy lock afterwards;
//   • a statement outside any transaction (autocommit) that fails busy has changed nothing.
// A busy statement inside a transaction (raw `begin` elsewhere) is not retried here: its transaction's
// earlier work would be lost or repeated.
import type SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type SqliteDialect,
} from 'kysely';

export interface BusyRetryPolicy {
  /** Attempts after the first (each one waits busy_timeout inside SQLite first). */
  readonly retries: number;
  /** Backoff before retry n (0-based) is baseDelayMs·2ⁿ, times a random factor in [0.5, 1.5). */
  readonly baseDelayMs: number;
}

export const DEFAULT_BUSY_RETRY: BusyRetryPolicy = { retries: 3, baseDelayMs: 50 };

/** SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (SQLITE_BUSY_SNAPSHOT, …). */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

export async function retryWhileBusy<T>(op: () => Promise<T>, policy: BusyRetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (!isBusyError(error) || attempt >= policy.retries) throw error;
      const delay = policy.baseDelayMs * 2 ** attempt * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** `dialect` with IMMEDIATE transactions and the retries above, on the better-sqlite3 connection `sqlite`. */
export function busyRetryingDialect(
  dialect: SqliteDialect,
  sqlite: SqliteDatabase.Database,
  policy: BusyRetryPolicy = DEFAULT_BUSY_RETRY,
): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => new BusyRetryingDriver(dialect.createDriver(), sqlite, policy),
  };
}

class BusyRetryingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly sqlite: SqliteDatabase.Database,
    private readonly policy: BusyRetryPolicy,
  ) {}

  init = () => this.inner.init();
  destroy = () => this.inner.destroy();
  releaseConnection = (connection: DatabaseConnection) => this.inner.releaseConnection(connection);
  commitTransaction = (connection: DatabaseConnection) => this.inner.commitTransaction(connection);
  rollbackTransaction = (connection: DatabaseConnection) => this.inner.rollbackTransaction(connection);

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    const { sqlite, policy } = this;
    return {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
        sqlite.inTransaction
          ? connection.executeQuery<R>(query)
          : retryWhileBusy(() => connection.executeQuery<R>(query), policy),
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => connection.streamQuery<R>(query, chunkSize),
    };
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // Through the wrapped connection above: not yet in a transaction, so a busy BEGIN is retried.
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  // Savepoints run inside a transaction that already holds the write lock.
  savepoint: NonNullable<Driver['savepoint']> = (...args) => this.inner.savepoint!(...args);
  rollbackToSavepoint: NonNullable<Driver['rollbackToSavepoint']> = (...args) =>
    this.inner.rollbackToSavepoint!(...args);
  releaseSavepoint: NonNullable<Driver['releaseSavepoint']> = (...args) => this.inner.releaseSavepoint!(...args);
}
