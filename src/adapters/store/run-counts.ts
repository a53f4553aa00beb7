// Run counts mean users (docs/design.md, "Run counts"): a batch counts each user once per operation however
// many identifiers it carries, and a user whose identifiers span batches is counted by the first of them.
// Runs keep the users they counted in run_counted_users until they finish, inside each acknowledgement's
// transaction, so a run resumed after a crash counts on exactly where it stopped. On SQLite that table is
// replaced by RunTallies below: its index took one random page write per profile acknowledged.
import { type Kysely, sql } from 'kysely';
import type { PlannedIdentifier } from '../../domain/batching.ts';
import type { ItemFailuresRepo } from '../../ports/store.ts';
import type { StoreDialect } from './dialect.ts';
import type { Database } from './schema.ts';

export type CountedOp = 'add' | 'remove' | 'fail';

/** Records the users of `items` for `op` and returns how many were not counted before in this run. */
export async function countNewUsers(
  tx: Kysely<Database>,
  dialect: StoreDialect,
  runId: string,
  op: CountedOp,
  items: readonly PlannedIdentifier[],
): Promise<number> {
  if (items.length === 0) return 0;
  // A user is its profile; an identifier with no profile (a profile deleted since) stands for itself.
  // Sorted: on PostgreSQL concurrent acknowledgements of one run may share a user, and inserting in one order
  // makes the second wait for the first rather than deadlock with it.
  const units = [...new Set(items.map((i) => (i.profileId === null ? `k:${i.key}` : String(i.profileId))))].sort();
  const result = await sql`insert into run_counted_users (run_id, op, unit)
    select ${runId}, ${op}, r.value from (${dialect.textRows(units)}) r where true
    on conflict (run_id, op, unit) do nothing`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/** Items of one acknowledged (or failed) batch, by the operation they are counted under. */
export type CountedItems = Readonly<Record<CountedOp, readonly PlannedIdentifier[]>>;

/** What a batch counts: users per operation, and the profiles it counted first (stored with the batch). */
export interface BatchTally {
  readonly users: Record<CountedOp, number>;
  readonly profiles: Partial<Record<CountedOp, number[]>>;
}

/**
 * SQLite: the profiles each run has counted per operation, held in memory as bit sets, with every batch
 * storing the profiles it counted first (run_batches.counted). run_counted_users did the same through a
 * unique index whose entries, profile ids, are unrelated to the key order batches are sent in: each
 * acknowledgement wrote about one random index page per profile, which (like the former profile index,
 * docs/embedded-store.md) capped delivery. Exact because SQLite has a single writer connection, so
 * acknowledgements run one at a time; a tally is only trusted for the lease fence it was built under, so a
 * process that regains a lease, or another that took it over, rebuilds it from the run's batches.
 * An identifier without a profile stands for itself: its key is in one batch of a run, so it is always new.
 */
export class RunTallies {
  /** A few runs at once at most (one per Braze cohort this process holds); older ones are dropped. */
  private readonly runs = new Map<string, RunTally>();

  constructor(private readonly keep = 16) {}

  /** The tally of `runId` under `fence`, rebuilt from its batches (inside `tx`) when not held for that fence. */
  async of(tx: Kysely<Database>, runId: string, fence: number): Promise<RunTally> {
    const held = this.runs.get(runId);
    if (held && held.fence === fence) return held;
    const tally = new RunTally(fence);
    const rows = await tx
      .selectFrom('run_batches')
      .select('counted')
      .where('run_id', '=', runId)
      .where('counted', 'is not', null)
      .execute();
    for (const r of rows) tally.mark(parseCounted(r.counted));
    this.runs.delete(runId);
    this.runs.set(runId, tally);
    for (const old of this.runs.keys()) {
      if (this.runs.size <= this.keep) break;
      this.runs.delete(old);
    }
    return tally;
  }

  /** After a failed transaction the tally may hold profiles that were never recorded: rebuild it next time. */
  forget(runId: string): void {
    this.runs.delete(runId);
  }
}

const OPS: readonly CountedOp[] = ['add', 'remove', 'fail'];

export class RunTally {
  private readonly seen: Record<CountedOp, BitSet> = { add: new BitSet(), remove: new BitSet(), fail: new BitSet() };

  constructor(readonly fence: number) {}

  /** What `items` count, without recording it (mark does, once the batch is recorded). */
  count(items: CountedItems): BatchTally {
    const users = { add: 0, remove: 0, fail: 0 };
    const profiles: Partial<Record<CountedOp, number[]>> = {};
    for (const op of OPS) {
      const fresh = new Set<number>();
      let unowned = 0;
      for (const i of items[op]) {
        if (i.profileId === null) unowned += 1;
        else if (!this.seen[op].has(i.profileId)) fresh.add(i.profileId);
      }
      users[op] = fresh.size + unowned;
      if (fresh.size > 0) profiles[op] = [...fresh];
    }
    return { users, profiles };
  }

  mark(profiles: BatchTally['profiles']): void {
    for (const op of OPS) for (const id of profiles[op] ?? []) this.seen[op].add(id);
  }
}

export const encodeCounted = (t: BatchTally): string | null =>
  Object.keys(t.profiles).length > 0 ? JSON.stringify(t.profiles) : null;

const parseCounted = (text: string | null | undefined): BatchTally['profiles'] =>
  text ? (JSON.parse(text) as BatchTally['profiles']) : {};

/** A set of non-negative integers in pages of 65,536 bits, allocated as ids reach them (1.25 MB per 10M). */
class BitSet {
  private readonly pages = new Map<number, Uint32Array>();

  has(n: number): boolean {
    const page = this.pages.get(Math.floor(n / 65_536));
    const bit = n % 65_536;
    return page !== undefined && (page[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  add(n: number): void {
    const key = Math.floor(n / 65_536);
    let page = this.pages.get(key);
    if (!page) {
      page = new Uint32Array(2048);
      this.pages.set(key, page);
    }
    const bit = n % 65_536;
    page[bit >>> 5] = (page[bit >>> 5] ?? 0) | (1 << (bit & 31));
  }
}

/** Identifiers a 2xx answer failed: kept with Braze's reason for the members export. */
export async function recordItemFailures(
  tx: Kysely<Database>,
  runId: string,
  seq: number,
  failures: readonly { key: string; profileId: number | null; reason: string }[],
): Promise<void> {
  for (let i = 0; i < failures.length; i += 200) {
    await tx
      .insertInto('run_item_failures')
      .values(
        failures.slice(i, i + 200).map((f) => ({
          run_id: runId,
          seq,
          ident_key: f.key,
          profile_id: f.profileId,
          reason: f.reason,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['run_id', 'ident_key']).doUpdateSet({ seq, reason: (eb) => eb.ref('excluded.reason') }),
      )
      .execute();
  }
}

export class KyselyItemFailuresRepo implements ItemFailuresRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async forBatches(runId: string, seqs: readonly number[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (seqs.length === 0) return out;
    const rows = await this.db
      .selectFrom('run_item_failures')
      .select(['ident_key', 'reason'])
      .where('run_id', '=', runId)
      .where('seq', 'in', [...seqs])
      .execute();
    for (const r of rows) out.set(r.ident_key, r.reason);
    return out;
  }
}
