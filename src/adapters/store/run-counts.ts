// Run counts mean users (docs/design.md, "Run counts"): a batch counts each user once per operation however
// many identifiers it carries, and a user whose identifiers span batches is counted by the first of them.
// Each acknowledged (or failed) batch stores the profiles it counted first in run_batches.counted, in the
// same row update that acknowledges it, and the process holding the run's lease keeps the run's counted
// profiles in memory (RunTallies below), so a run resumed after a crash counts on exactly where it stopped.
// Runs used to keep their counted users in run_counted_users, whose index took one random page write per
// profile acknowledged (docs/embedded-store.md); a tally rebuilt for a run begun before that still reads it.
import { type Kysely, sql } from 'kysely';
import type { PlannedIdentifier } from '../../domain/batching.ts';
import type { ItemFailuresRepo } from '../../ports/store.ts';
import type { Database } from './schema.ts';

export type CountedOp = 'add' | 'remove' | 'fail';

/** Items of one acknowledged (or failed) batch, by the operation they are counted under. */
export type CountedItems = Readonly<Record<CountedOp, readonly PlannedIdentifier[]>>;

/** What a batch counts: users per operation, and the profiles it counted first (stored with the batch). */
export interface BatchTally {
  readonly users: Record<CountedOp, number>;
  readonly profiles: Partial<Record<CountedOp, number[]>>;
}

const OPS: readonly CountedOp[] = ['add', 'remove', 'fail'];

/**
 * A batch's claim on the profiles it counts first, held from its decision until its transaction has ended:
 * `commit` once it committed, `abandon` if it did not (or may not have), `release` if it recorded nothing.
 */
export interface TallyClaim extends BatchTally {
  /** run_batches.counted: the profiles counted first, or null. */
  readonly stored: string | null;
  commit(): void;
  release(): void;
  abandon(): void;
}

/**
 * The profiles each run has counted per operation, held in memory as bit sets by the process that holds the
 * run's lease (one process acknowledges a run at a time: leases are fenced, and an acknowledgement checks the
 * fence in its transaction). Within the process several acknowledgements of a run may be in flight at once
 * (PostgreSQL runs their transactions concurrently), so a batch claims the profiles it counts first, in one
 * synchronous step, before it writes anything; a batch that needs a profile another batch in flight has
 * claimed waits until that one's transaction has ended, then decides again. So a profile is counted by
 * exactly one committed batch: the first that claimed it and committed.
 *
 * A tally is trusted only for the lease fence it was built under, and only while every transaction that
 * claimed from it ended knowingly: a process that regains a lease, or another that took it over, or one whose
 * acknowledgement failed (its commit may or may not have happened), waits until the acknowledgements still in
 * flight on the old tally have ended and rebuilds it from the run's batches. An identifier without a profile
 * stands for itself: its key is in one batch of a run, so it is always new.
 */
export class RunTallies {
  /** A few runs at once at most (one per Braze cohort this process holds); idle older ones are dropped. */
  private readonly runs = new Map<string, TallyEntry>();

  constructor(private readonly keep = 16) {}

  /** Claims what `items` count in run `runId` under `fence`, inside acknowledgement transaction `tx`. */
  async claim(tx: Kysely<Database>, runId: string, fence: number, items: CountedItems): Promise<TallyClaim> {
    for (;;) {
      const tally = await this.of(tx, runId, fence);
      if (tally.dead) continue;
      const blocker = tally.blocker(items);
      if (blocker) {
        await blocker.settled;
        continue;
      }
      return tally.claim(items);
    }
  }

  /** After a failed transaction the tally may be behind or ahead of the store: rebuild it once it is idle. */
  forget(runId: string): void {
    const entry = this.runs.get(runId);
    if (entry) entry.dead = true;
    entry?.tally?.kill();
  }

  private async of(tx: Kysely<Database>, runId: string, fence: number): Promise<RunTally> {
    const held = this.runs.get(runId);
    if (held && held.fence === fence && !held.dead && !held.tally?.dead) return held.tally ?? (await held.ready);
    held?.tally?.kill();
    const entry: TallyEntry = { fence, dead: false, tally: null, ready: build(tx, runId, fence, held) };
    this.runs.delete(runId);
    this.runs.set(runId, entry);
    entry.ready.then(
      (t) => {
        entry.tally = t;
        if (entry.dead) t.kill();
      },
      () => {
        entry.dead = true;
      },
    );
    for (const [id, old] of this.runs) {
      if (this.runs.size <= this.keep) break;
      if (id !== runId && old.tally && old.tally.idle()) this.runs.delete(id);
    }
    return entry.ready;
  }
}

interface TallyEntry {
  readonly fence: number;
  dead: boolean;
  tally: RunTally | null;
  readonly ready: Promise<RunTally>;
}

/** A run's tally from its batches, once the acknowledgements in flight on the one it replaces have ended. */
async function build(tx: Kysely<Database>, runId: string, fence: number, previous?: TallyEntry): Promise<RunTally> {
  if (previous) {
    const old = await previous.ready.catch(() => null);
    await old?.drained();
  }
  const tally = new RunTally(fence);
  const rows = await tx
    .selectFrom('run_batches')
    .select('counted')
    .where('run_id', '=', runId)
    .where('counted', 'is not', null)
    .execute();
  for (const r of rows) tally.mark(parseCounted(r.counted));
  // A run acknowledged in part before batches stored what they counted: its users are in run_counted_users.
  const legacy = await sql<{ op: CountedOp; unit: string }>`select op, unit from run_counted_users
    where run_id = ${runId}`.execute(tx);
  for (const r of legacy.rows) if (/^\d+$/.test(r.unit)) tally.mark({ [r.op]: [Number(r.unit)] });
  return tally;
}

interface Claim {
  readonly profiles: BatchTally['profiles'];
  readonly settled: Promise<void>;
  settle(): void;
}

class RunTally {
  private readonly seen: Record<CountedOp, BitSet> = { add: new BitSet(), remove: new BitSet(), fail: new BitSet() };
  /** Profiles claimed by batches whose transactions have not ended, by operation. */
  private readonly pending: Record<CountedOp, Map<number, Claim>> = {
    add: new Map(),
    remove: new Map(),
    fail: new Map(),
  };
  private readonly inFlight = new Set<Claim>();
  private idleWaiters: (() => void)[] = [];
  dead = false;

  constructor(readonly fence: number) {}

  /** A claim in flight on one of the profiles `items` would count first, if any. */
  blocker(items: CountedItems): Claim | undefined {
    if (this.inFlight.size === 0) return undefined;
    for (const op of OPS) {
      const pending = this.pending[op];
      if (pending.size === 0) continue;
      for (const i of items[op]) {
        if (i.profileId === null) continue;
        const claim = pending.get(i.profileId);
        if (claim) return claim;
      }
    }
    return undefined;
  }

  /** Claims the profiles of `items` not counted yet (none may be claimed by another batch: see blocker). */
  claim(items: CountedItems): TallyClaim {
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
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const claim: Claim = { profiles, settled, settle };
    for (const op of OPS) for (const id of profiles[op] ?? []) this.pending[op].set(id, claim);
    this.inFlight.add(claim);
    const end = (counted: boolean) => {
      if (!this.inFlight.delete(claim)) return;
      for (const op of OPS) for (const id of profiles[op] ?? []) this.pending[op].delete(id);
      if (counted) this.mark(profiles);
      claim.settle();
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    };
    return {
      users,
      profiles,
      stored: Object.keys(profiles).length > 0 ? JSON.stringify(profiles) : null,
      commit: () => end(true),
      release: () => end(false),
      abandon: () => {
        this.kill();
        end(false);
      },
    };
  }

  mark(profiles: BatchTally['profiles']): void {
    for (const op of OPS) for (const id of profiles[op] ?? []) this.seen[op].add(id);
  }

  /** No longer to be claimed from (RunTallies builds another once this one is idle). */
  kill(): void {
    this.dead = true;
  }

  idle(): boolean {
    return this.inFlight.size === 0;
  }

  /** Resolves once no claim is in flight. */
  drained(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}

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
