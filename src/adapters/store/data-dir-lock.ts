// One process owns an embedded store: `serve` holds an exclusive lock on DATA_DIR for as long as it runs.
// The lock is SQLite's own file lock on DATA_DIR/cohort-sync.lock (an open EXCLUSIVE transaction that is
// never committed), so the operating system drops it when the process exits, however it exits — SIGKILL
// included — and no stale lock is ever left to clean up. Who holds it is written beside it, for the message
// a second process prints when it is refused. See docs/embedded-store.md.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';

export const LOCK_FILE = 'cohort-sync.lock';
export const HOLDER_FILE = 'cohort-sync.lock.holder';

export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly since: string;
  readonly command: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `DATA_DIR ${dataDir} is in use by process ${holder.pid} on ${holder.hostname} (${holder.command}, since ${holder.since}): stop it first, or give this one another DATA_DIR`
        : `DATA_DIR ${dataDir} is in use by another process: stop it first, or give this one another DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  release(): void;
}

function readHolder(dataDir: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(join(dataDir, HOLDER_FILE), 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number'
      ? {
          pid: h.pid,
          hostname: String(h.hostname ?? '?'),
          since: String(h.since ?? '?'),
          command: String(h.command ?? '?'),
        }
      : null;
  } catch {
    return null; // written a moment after the lock is taken, or by a version that did not write it
  }
}

/** Takes the DATA_DIR lock or throws DataDirInUseError naming the holder; never waits. */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const lock = new SqliteDatabase(join(dataDir, LOCK_FILE));
  try {
    lock.pragma('busy_timeout = 0');
    // EXCLUSIVE in rollback-journal mode: no other connection, in this process or another, may even read.
    lock.exec('begin exclusive');
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, readHolder(dataDir));
    throw error;
  }
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), since: new Date().toISOString(), command };
  writeFileSync(join(dataDir, HOLDER_FILE), `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  let held = true;
  return {
    dataDir,
    release() {
      if (!held) return;
      held = false;
      rmSync(join(dataDir, HOLDER_FILE), { force: true });
      lock.close();
    },
  };
}
