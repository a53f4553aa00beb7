// Every row of every table of a store, in a stable order: comparing two snapshots tells whether anything
// stored changed in between (the schema's own bookkeeping included).
import { sql } from 'kysely';
import type { OpenedStore } from '../../src/adapters/store/index.ts';

export async function snapshotStore(store: OpenedStore): Promise<Record<string, string[]>> {
  const { db, engine } = store.raw;
  const out: Record<string, string[]> = {};
  if (engine === 'postgres') {
    // One round trip: each table as a sorted JSON array of its rows.
    const tables = (
      await sql<{
        name: string;
      }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(
        db,
      )
    ).rows.map((r) => r.name);
    const parts = tables.map(
      (t) =>
        sql`select ${t} as name, coalesce((select json_agg(x.r order by x.r) from (select row_to_json(y)::text as r from ${sql.table(t)} y) x), '[]')::text as rows`,
    );
    const rows = await sql<{ name: string; rows: string }>`${sql.join(parts, sql` union all `)}`.execute(db);
    for (const r of rows.rows) out[r.name] = JSON.parse(r.rows) as string[];
    return out;
  }
  const tables = (
    await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)
  ).rows.map((r) => r.name);
  for (const table of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    out[table] = rows.rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}
