// Applies MIGRATIONS in order, once, even when two processes start at the same moment: PostgreSQL takes a
// transaction-scoped advisory lock, SQLite takes the write lock up front (BEGIN IMMEDIATE) and waits on
// busy_timeout (StoreDialect.beginWrite / lockMigrations). Each migration commits with its bookkeeping row, so a crash never half-applies one.
import { sql } from 'kysely';
import type { StoreDb } from './db.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';

export async function migrate(store: StoreDb, migrations: readonly Migration[] = MIGRATIONS): Promise<string[]> {
  const { db, engine, dialect } = store;
  return db.connection().execute(async (conn) => {
    await sql.raw(dialect.beginWrite).execute(conn);
    try {
      await dialect.lockMigrations(conn);
      // Inside the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL's catalogs.
      await sql`create table if not exists schema_migrations (name text primary key, applied_at text not null)`.execute(
        conn,
      );
      const done = await sql<{ name: string }>`select name from schema_migrations`.execute(conn);
      const applied = new Set(done.rows.map((r) => r.name));
      const schema =
        engine === 'postgres'
          ? (await sql<{ s: string }>`select current_schema() as s`.execute(conn)).rows[0]!.s
          : 'main';
      const ran: string[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.name)) continue;
        for (const statement of migration.up(engine, { schema })) await sql.raw(statement).execute(conn);
        await sql`insert into schema_migrations (name, applied_at) values (${migration.name}, ${new Date().toISOString()})`.execute(
          conn,
        );
        ran.push(migration.name);
      }
      await sql`commit`.execute(conn);
      return ran;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}
