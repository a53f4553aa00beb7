// Acknowledgements on PostgreSQL hold the lease's fence with a shared row lock: a fence bump (another worker
// taking the lease over) waits for the acknowledgements in progress, while concurrent acknowledgements of one
// Braze cohort's batches do not wait for each other (an exclusive lock held to each commit serialised them
// and capped delivery below Braze's rate, docs/benchmarks.md "Scale-out on PostgreSQL").
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresDialect } from '../../src/adapters/store/dialect.ts';
import { openStore } from '../../src/adapters/store/index.ts';
import { ENGINES } from '../support/engines.ts';
import { seedSendingRun } from '../support/sending-run.ts';

const postgres = ENGINES.find((e) => e.name === 'postgres');

/** Whether `p` settles within `ms`. */
const settlesWithin = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe.skipIf(!postgres)('acknowledgement fence on PostgreSQL', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  it('lets acknowledgements of one cohort overlap, and makes a fence bump wait for them', async () => {
    const f = await postgres!.fresh();
    const store = await openStore(f.location);
    const other = await openStore(f.location, { migrate: false });
    cleanup.push(async () => {
      await other.close();
      await store.close();
      await f.drop();
    });
    const db = store.raw.db;
    const now = new Date().toISOString();
    await seedSendingRun(db, now);
    await sql`insert into run_batches (run_id, seq, payload, size, status)
      values ('run', 1, '{}', 1, 'pending'), ('run', 2, '{}', 1, 'pending')`.execute(db);
    const ack = (seq: number, fence: number) =>
      other.planning.ackBatch({
        runId: 'run',
        brazeCohortId: 'bc',
        seq,
        fence,
        batch: { add: [{ key: `u:user-${seq}`, profileId: null }], remove: [] },
        now,
        requests: 1,
        retries: 0,
      });

    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let bump!: Promise<unknown>;
    let bumpWaited = false;
    // An acknowledgement in progress: it holds fence 1 until its transaction ends.
    const inProgress = db.transaction().execute(async (tx) => {
      expect(await postgresDialect.holdFence(tx, 'bc', 1)).toBe(true);
      // Another acknowledgement of the same cohort goes through meanwhile (it used to wait for this commit).
      expect(await settlesWithin(ack(1, 1), 5_000)).toBe(true);
      // Taking the lease over bumps the fence: that must wait until this acknowledgement has committed.
      bump = sql`update braze_cohorts set fence = fence + 1 where id = 'bc'`.execute(other.raw.db);
      bumpWaited = !(await settlesWithin(bump, 300));
      release();
    });
    await released;
    await inProgress;
    await bump;
    expect(bumpWaited).toBe(true);
    // The old fence no longer acknowledges anything.
    expect(await ack(2, 1)).toBe(false);
    const rows = await sql<{ seq: number; status: string }>`select seq, status from run_batches order by seq`.execute(
      db,
    );
    expect(rows.rows).toEqual([
      { seq: 1, status: 'acked' },
      { seq: 2, status: 'pending' },
    ]);
  });
});
