// SQLite's ingestion requests share one transaction when they arrive together (src/adapters/store/group-commit.ts);
// when one fails, the group is rolled back and each request reruns alone, so only the failing one is lost.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/adapters/store/group-commit.ts';
import { type OpenedStore, openStore } from '../../src/adapters/store/index.ts';
import { StoreUnavailableError } from '../../src/ports/event-store.ts';
import { ENGINES } from '../support/engines.ts';

const sqlite = ENGINES.find((e) => e.name === 'sqlite')!;

describe('group commit on sqlite', () => {
  let store: OpenedStore;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await sqlite.fresh();
    drop = fresh.drop;
    store = await openStore(fresh.location);
    await sql`create table gc_rows (v text not null)`.execute(store.raw.db);
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  const rows = async () =>
    (await sql<{ v: string }>`select v from gc_rows order by v`.execute(store.raw.db)).rows.map((r) => r.v);

  it('runs requests that arrive together in one transaction', async () => {
    const group = new GroupCommit(store.raw.db);
    const seen = new Set<unknown>();
    const insert = (v: string) =>
      group.run(async (tx) => {
        seen.add(tx);
        await sql`insert into gc_rows (v) values (${v})`.execute(tx);
        return v;
      });
    expect(await Promise.all([insert('a'), insert('b'), insert('c')])).toEqual(['a', 'b', 'c']);
    expect(seen.size).toBe(1);
    expect(await rows()).toEqual(['a', 'b', 'c']);
    await sql`delete from gc_rows`.execute(store.raw.db);
  });

  it('loses only the request that fails: the others of its group rerun alone and commit once', async () => {
    const group = new GroupCommit(store.raw.db);
    const runs: string[] = [];
    const insert = (v: string, fail = false) =>
      group.run(async (tx) => {
        runs.push(v);
        await sql`insert into gc_rows (v) values (${v})`.execute(tx);
        if (fail) throw new Error(`request ${v} failed`);
        return v;
      });
    const results = await Promise.allSettled([insert('a'), insert('b', true), insert('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a',
      'request b failed',
      'c',
    ]);
    // Together (a, b fails: c never started), then each alone.
    expect(runs).toEqual(['a', 'b', 'a', 'b', 'c']);
    expect(await rows()).toEqual(['a', 'c']);
  });

  it('fails every request of the group as unavailable when the store cannot take writes', async () => {
    const group = new GroupCommit(store.raw.db);
    await sql`pragma query_only = 1`.execute(store.raw.db);
    try {
      const results = await Promise.allSettled(
        ['x', 'y'].map((v) => group.run((tx) => sql`insert into gc_rows (v) values (${v})`.execute(tx))),
      );
      for (const r of results) expect(r.status === 'rejected' && r.reason).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await sql`pragma query_only = 0`.execute(store.raw.db);
    }
    expect(await rows()).toEqual(['a', 'c']);
  });
});
