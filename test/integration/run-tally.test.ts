// Run counts are users, counted by the first batch that carries them (docs/design.md, "Run counts"), and the
// process holding a run's lease keeps the counted users in memory (src/adapters/store/run-counts.ts). These
// tests acknowledge batches whose users overlap heavily, several at once (as a worker does, one transaction
// each), through two stores standing for two worker processes: one takes the lease over from the other and the
// first takes it back, and one acknowledgement fails after it claimed its users. Every count must equal the
// number of distinct users of the recorded batches: a tally that let two batches in flight count one user, kept
// a failed batch's users, or was trusted across a takeover would count some users twice or not at all.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenedStore, openStore } from '../../src/adapters/store/index.ts';
import type { PlannedIdentifier } from '../../src/domain/batching.ts';
import { ENGINES } from '../support/engines.ts';
import { prng } from '../support/prng.ts';
import { seedSendingRun } from '../support/sending-run.ts';

interface TestBatch {
  readonly seq: number;
  readonly add: PlannedIdentifier[];
  readonly remove: PlannedIdentifier[];
  /** Items the destination failed in a 2xx answer (counted as failed users). */
  readonly failed: PlannedIdentifier[];
  /** Refused as a whole (failBatch): every item counts as failed. */
  readonly refused: boolean;
}

const BATCHES = 48;
const PROFILES = 120;

/** Batches of 30 identifiers drawn from 120 profiles (so most users span several batches), a few without one. */
function batches(seed: number): TestBatch[] {
  const rand = prng(seed);
  let key = 0;
  const item = (): PlannedIdentifier => ({
    key: `u:k${String(key++).padStart(6, '0')}`,
    profileId: rand() < 0.05 ? null : Math.floor(rand() * PROFILES),
  });
  return Array.from({ length: BATCHES }, (_, i) => {
    const items = Array.from({ length: 30 }, item);
    return {
      seq: i + 1,
      add: items.slice(0, 20),
      remove: items.slice(20, 27),
      failed: items.slice(27),
      refused: i % 11 === 5,
    };
  });
}

/** What the recorded batches count: distinct users per operation, each identifier without a profile on its own. */
function expectedCounts(recorded: readonly TestBatch[]) {
  const users = (items: PlannedIdentifier[]) =>
    new Set(items.map((i) => (i.profileId === null ? i.key : `p${i.profileId}`))).size;
  const all = (pick: (b: TestBatch) => PlannedIdentifier[]) => recorded.flatMap(pick);
  return {
    added: users(all((b) => (b.refused ? [] : b.add))),
    removed: users(all((b) => (b.refused ? [] : b.remove))),
    failed: users(all((b) => (b.refused ? [...b.add, ...b.remove, ...b.failed] : b.failed))),
  };
}

function record(store: OpenedStore, b: TestBatch, fence: number): Promise<boolean> {
  const common = { runId: 'run', brazeCohortId: 'bc', seq: b.seq, fence, requests: 1, retries: 0 };
  if (b.refused)
    return store.planning.failBatch({
      ...common,
      error: 'refused',
      batch: { add: b.add, remove: [...b.remove, ...b.failed] },
    });
  return store.planning.ackBatch({
    ...common,
    batch: { add: b.add, remove: b.remove },
    now: new Date().toISOString(),
    failed: b.failed.map((f) => ({ ...f, reason: 'invalid' })),
  });
}

/** Records `list` with `inFlight` acknowledgements at once; returns the batches that failed with an error. */
async function recordAll(store: OpenedStore, list: readonly TestBatch[], fence: number, inFlight = 4) {
  let next = 0;
  const errored: TestBatch[] = [];
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < list.length; i = next++) {
        try {
          expect(await record(store, list[i]!, fence)).toBe(true);
        } catch (error) {
          if (!String(error).includes('injected failure')) throw error;
          errored.push(list[i]!);
        }
      }
    }),
  );
  return errored;
}

async function counts(store: OpenedStore) {
  const r = await sql<{ added: number; removed: number; failed: number }>`
    select added, removed, failed from runs where id = 'run'`.execute(store.raw.db);
  const row = r.rows[0]!;
  return { added: Number(row.added), removed: Number(row.removed), failed: Number(row.failed) };
}

/** Makes the first update of batch `seq` fail inside its transaction (after its users were claimed), once armed. */
async function armFailure(store: OpenedStore, seq: number) {
  const db = store.raw.db;
  await sql`create table fail_once (seq integer not null)`.execute(db);
  await sql`insert into fail_once values (${seq})`.execute(db);
  if (store.raw.engine === 'postgres') {
    await sql`create function fail_once() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from fail_once where seq = new.seq) then raise exception 'injected failure'; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger fail_once before update on run_batches for each row execute function fail_once()`.execute(
      db,
    );
  } else {
    await sql`create trigger fail_once before update on run_batches
      when exists (select 1 from fail_once where seq = new.seq)
      begin select raise(abort, 'injected failure'); end`.execute(db);
  }
  return async () => void (await sql`delete from fail_once`.execute(db));
}

describe.each(ENGINES)('run counts in memory across concurrent acknowledgements and takeovers ($name)', (engine) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function twoProcesses() {
    const f = await engine.fresh();
    const a = await openStore(f.location);
    const b = await openStore(f.location, { migrate: false });
    cleanup.push(async () => {
      await b.close();
      await a.close();
      await f.drop();
    });
    const now = new Date().toISOString();
    await seedSendingRun(a.raw.db, now);
    const list = batches(engine.name === 'postgres' ? 7 : 11);
    for (const bt of list)
      await sql`insert into run_batches (run_id, seq, payload, size, status)
        values ('run', ${bt.seq}, '{}', 30, 'pending')`.execute(a.raw.db);
    const bumpFence = (to: number) => sql`update braze_cohorts set fence = ${to} where id = 'bc'`.execute(a.raw.db);
    return { a, b, list, bumpFence };
  }

  it('counts each user once per operation through a failed acknowledgement, a takeover and a lease taken back', async () => {
    const { a, b, list, bumpFence } = await twoProcesses();
    const disarm = await armFailure(a, 7);
    // Process A, fence 1: batches 1–16, four at once; batch 7 fails after claiming its users.
    const errored = await recordAll(a, list.slice(0, 16), 1);
    expect(errored.map((x) => x.seq)).toEqual([7]);
    const recorded = list.slice(0, 16).filter((x) => x.seq !== 7);
    expect(await counts(a)).toEqual(expectedCounts(recorded));
    await disarm();
    // Batch 7 again: its users, released by the failure, are counted now if no other batch counted them.
    expect(await recordAll(a, [list[6]!], 1)).toEqual([]);
    recorded.push(list[6]!);
    expect(await counts(a)).toEqual(expectedCounts(recorded));

    // Process B takes the lease over (fence 2) and records batches 17–32; A's fence no longer records anything.
    await bumpFence(2);
    expect(await record(a, list[16]!, 1)).toBe(false);
    expect(await recordAll(b, list.slice(16, 32), 2)).toEqual([]);
    recorded.push(...list.slice(16, 32));
    expect(await counts(a)).toEqual(expectedCounts(recorded));

    // A takes it back (fence 3): what it held for fence 1 misses B's batches, so it must rebuild.
    await bumpFence(3);
    expect(await record(b, list[32]!, 2)).toBe(false);
    expect(await recordAll(a, list.slice(32), 3)).toEqual([]);
    recorded.push(...list.slice(32));
    expect(await counts(a)).toEqual(expectedCounts(recorded));
    // Recording a batch again changes nothing.
    expect(await recordAll(a, list.slice(0, 8), 3)).toEqual([]);
    expect(await counts(a)).toEqual(expectedCounts(list));
  });

  it('resumes a run whose earlier batches counted their users in run_counted_users', async () => {
    const { b, list } = await twoProcesses();
    const first = list[0]!;
    // As an earlier version recorded batch 1: acknowledged, no `counted`, its users in run_counted_users.
    const db = b.raw.db;
    await sql`update run_batches set status = 'acked' where run_id = 'run' and seq = 1`.execute(db);
    for (const [op, items] of [
      ['add', first.add],
      ['remove', first.remove],
      ['fail', first.failed],
    ] as const)
      for (const unit of new Set(items.map((i) => (i.profileId === null ? `k:${i.key}` : String(i.profileId)))))
        await sql`insert into run_counted_users (run_id, op, unit) values ('run', ${op}, ${unit})`.execute(db);
    const before = expectedCounts([first]);
    await sql`update runs set added = ${before.added}, removed = ${before.removed}, failed = ${before.failed}
      where id = 'run'`.execute(db);
    expect(await recordAll(b, list.slice(1), 1)).toEqual([]);
    expect(await counts(b)).toEqual(expectedCounts(list));
  });
});
