import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStoreDb } from '../../src/adapters/store/db.ts';
import { MIGRATIONS } from '../../src/adapters/store/migrations.ts';
import { migrate } from '../../src/adapters/store/migrator.ts';
import { ENGINES } from '../support/engines.ts';

const child = (location: unknown) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const script = `
      import { openStoreDb } from './src/adapters/store/db.ts';
      import { migrate } from './src/adapters/store/migrator.ts';
      const store = openStoreDb(${JSON.stringify(location)});
      const ran = await migrate(store);
      await store.close();
      console.log(JSON.stringify(ran));`;
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });

describe.each(ENGINES)('migrations on $name', (engine) => {
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => drop?.());

  it('apply once when two processes start at the same moment', async () => {
    const fresh = await engine.fresh();
    drop = fresh.drop;
    const results = await Promise.all([child(fresh.location), child(fresh.location), child(fresh.location)]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const applied = results.map((r) => JSON.parse(r.out.trim().split('\n').at(-1)!) as string[]);
    // Exactly one process applied each migration; the others found it done.
    expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());

    const store = openStoreDb(fresh.location);
    try {
      expect(await migrate(store)).toEqual([]);
      const rows = await sql<{ name: string }>`select name from schema_migrations order by name`.execute(store.db);
      expect(rows.rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await store.close();
    }
  });
});
