// An acknowledgement writes its identifiers as an upsert; on PostgreSQL a plain insert goes first when no
// acknowledged key of the cohort lies in the batch's key range (dialect.insertsAckedFirst). Both paths must
// leave braze_identifiers exactly as the upsert alone would: keys already acknowledged are taken over by the
// batch (profile, run, settled = 0), keys around the batch's range stay as they were.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/store/index.ts';
import { ENGINES } from '../support/engines.ts';
import { seedSendingRun } from '../support/sending-run.ts';

describe.each(ENGINES)('acknowledged identifiers on $name', (engine) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  it('inserts fresh ranges, upserts keys acknowledged before, and leaves neighbours alone', async () => {
    const f = await engine.fresh();
    const store = await openStore(f.location);
    cleanup.push(async () => {
      await store.close();
      await f.drop();
    });
    const db = store.raw.db;
    const now = new Date().toISOString();
    await seedSendingRun(db, now);
    // Acknowledged by an earlier run: one key inside batch 2's range (not in it), one key batch 3 sends again.
    await sql`insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at, settled)
      values ('bc', 'e:m', 50, 'old', 'then', 1), ('bc', 'e:x', 60, 'old', 'then', 1),
             ('other', 'e:b', 70, 'old', 'then', 1)`.execute(db);
    await sql`insert into run_batches (run_id, seq, payload, size, status)
      values ('run', 1, '{}', 2, 'pending'), ('run', 2, '{}', 2, 'pending'), ('run', 3, '{}', 2, 'pending')`.execute(
      db,
    );
    const ack = (seq: number, keys: [string, number | null][]) =>
      store.planning.ackBatch({
        runId: 'run',
        brazeCohortId: 'bc',
        seq,
        fence: 1,
        batch: { add: keys.map(([key, profileId]) => ({ key, profileId })), remove: [] },
        now,
        requests: 1,
        retries: 0,
      });
    // Nothing of 'bc' between e:a and e:c (another cohort's e:b does not count).
    expect(
      await ack(1, [
        ['e:a', 1],
        ['e:c', null],
      ]),
    ).toBe(true);
    // e:m lies between e:k and e:q: the range is not fresh, every key is still new.
    expect(
      await ack(2, [
        ['e:k', 2],
        ['e:q', 3],
      ]),
    ).toBe(true);
    // e:x was acknowledged before: the batch takes it over.
    expect(
      await ack(3, [
        ['e:w', 4],
        ['e:x', 5],
      ]),
    ).toBe(true);

    const rows = await sql<{ braze_cohort_id: string; ident_key: string; profile_id: number | null; run_id: string }>`
      select braze_cohort_id, ident_key, profile_id, run_id, settled from braze_identifiers
      order by braze_cohort_id, ident_key`.execute(db);
    expect(rows.rows.map((r) => ({ ...r, profile_id: r.profile_id === null ? null : Number(r.profile_id) }))).toEqual([
      { braze_cohort_id: 'bc', ident_key: 'e:a', profile_id: 1, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'bc', ident_key: 'e:c', profile_id: null, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'bc', ident_key: 'e:k', profile_id: 2, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'bc', ident_key: 'e:m', profile_id: 50, run_id: 'old', settled: 1 },
      { braze_cohort_id: 'bc', ident_key: 'e:q', profile_id: 3, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'bc', ident_key: 'e:w', profile_id: 4, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'bc', ident_key: 'e:x', profile_id: 5, run_id: 'run', settled: 0 },
      { braze_cohort_id: 'other', ident_key: 'e:b', profile_id: 70, run_id: 'old', settled: 1 },
    ]);
    const run = await store.runs.getById('run');
    expect(run?.counts).toMatchObject({ added: 6 });
  });
});
