// The store engines a suite runs against: SQLite always (a real file), PostgreSQL when TEST_DATABASE_URL is
// set, each test file in a fresh schema so files can run in parallel against one database.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { StoreLocation } from '../../src/adapters/store/index.ts';

export interface TestEngine {
  readonly name: 'sqlite' | 'postgres' | 'sqlite (writer thread)';
  /** A fresh, empty store location, and how to throw it away. */
  fresh(): Promise<{ location: StoreLocation; drop(): Promise<void> }>;
}

export const POSTGRES_URL = process.env.TEST_DATABASE_URL;

const sqlite: TestEngine = {
  name: 'sqlite',
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-test-'));
    return {
      location: { kind: 'sqlite', file: join(dir, 'store.db') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/** SQLite with ingestion's writes — and the real-time passes — on the writer thread (ingest-writer.ts, opt-in). */
export const SQLITE_WRITER_THREAD: TestEngine = {
  name: 'sqlite (writer thread)',
  async fresh() {
    const fresh = await sqlite.fresh();
    return { ...fresh, location: { ...fresh.location, ingestThread: true } as typeof fresh.location };
  },
};

const postgres = (url: string): TestEngine => ({
  name: 'postgres',
  async fresh() {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.end();
    return {
      location: { kind: 'postgres', url, schema },
      drop: async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        // pg-boss's schema beside it (created by migration 0040_pgboss).
        await c.query(`drop schema if exists ${schema}_pgboss cascade`);
        await c.end();
      },
    };
  },
});

export const ENGINES: readonly TestEngine[] = [sqlite, ...(POSTGRES_URL ? [postgres(POSTGRES_URL)] : [])];
