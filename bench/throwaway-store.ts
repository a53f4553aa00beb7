// A store location that lives only for one bench: a temp SQLite file, or a fresh PostgreSQL schema.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgBossSchemaFor } from '../src/adapters/queue/pg-boss-schema.ts';
import type { StoreLocation } from '../src/adapters/store/index.ts';

export interface ThrowawayStore {
  readonly location: StoreLocation;
  drop(): Promise<void>;
}

/** `dir`: put the SQLite file there and leave the folder to the caller; otherwise a temp folder is made and removed. */
export async function throwawayStore(
  engine: 'sqlite' | 'postgres',
  databaseUrl: string | undefined,
  opts: { prefix: string; dir?: string },
): Promise<ThrowawayStore> {
  if (engine === 'sqlite') {
    if (opts.dir)
      return { location: { kind: 'sqlite', file: join(opts.dir, 'store.db') }, drop: async () => undefined };
    const dir = mkdtempSync(join(tmpdir(), `cohort-sync-${opts.prefix}-`));
    return {
      location: { kind: 'sqlite', file: join(dir, 'store.db') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (!databaseUrl) throw new Error('--engine postgres needs --database-url (or DATABASE_URL)');
  const schema = `${opts.prefix.replace(/\W/g, '_')}_${randomBytes(5).toString('hex')}`;
  const admin = async (q: string) => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await admin(`create schema ${schema}`);
  return {
    location: { kind: 'postgres', url: databaseUrl, schema },
    // The store's migrations also made pg-boss's schema beside it; both go.
    drop: () => admin(`drop schema if exists ${schema}, ${pgBossSchemaFor(schema)} cascade`),
  };
}
