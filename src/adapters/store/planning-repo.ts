// Delta planning inside the store: the desired identifiers of a Braze cohort are staged in an indexed
// table, and adds / removes are anti-joins against the acknowledged identifiers, read in key-ordered pages.
// JavaScript only ever holds one page, so memory does not grow with the cohort.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { PlannedBatch, PlannedIdentifier } from '../../domain/batching.ts';
import { aliasKeyPrefix } from '../../domain/identifiers.ts';
import { userIdAliasLabels } from '../../domain/incremental.ts';
import { mappingChain, primarySkipReason } from '../../domain/mapping.ts';
import type { PlannedFrom } from '../../domain/model.ts';
import type { IdentifierTouch, PlanningRepo, StoredBatch, SyncPlanInput } from '../../ports/store.ts';
import { ackedOfProfiles, hasAcked, settle } from './acked-by-profile.ts';
import type { StoreDialect } from './dialect.ts';
import { parseJson } from './json.ts';
import { chosenStepSql, identifierSelects, reachedSql } from './mapping-sql.ts';
import { devicesOf } from './membership-repo.ts';
import { type CountedItems, RunTallies, recordItemFailures, type TallyClaim } from './run-counts.ts';
import type { Database } from './schema.ts';

type BatchPayload = { add: [string, number | null][]; remove: [string, number | null][] };

const encodeBatch = (b: PlannedBatch): string =>
  JSON.stringify({
    add: b.add.map((i) => [i.key, i.profileId]),
    remove: b.remove.map((i) => [i.key, i.profileId]),
  } satisfies BatchPayload);

export function decodeBatch(payload: string): PlannedBatch {
  const p = parseJson<BatchPayload>(payload, { add: [], remove: [] });
  const item = ([key, profileId]: [string, number | null]): PlannedIdentifier => ({ key, profileId });
  return { add: p.add.map(item), remove: p.remove.map(item) };
}

/** Below this many staged keys, pageAdds probes the acknowledged index per key rather than merging with it. */
const MERGE_MIN_STAGED = 20_000;
export class KyselyPlanningRepo implements PlanningRepo {
  /** The runs' counted users, in memory (run-counts.ts). */
  private readonly tallies = new RunTallies();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
  ) {}

  /**
   * An acknowledgement's transaction under the lease fence, with the batch's claim on the users it counts
   * first: `body` says whether it recorded the batch (the claim is kept once the transaction has committed) or
   * found it recorded already. If the transaction fails, the tally may be ahead of the store: it is rebuilt.
   */
  private async recording(
    a: { runId: string; brazeCohortId: string; fence: number },
    items: CountedItems,
    body: (tx: Kysely<Database>, claim: TallyClaim) => Promise<'recorded' | 'already'>,
  ): Promise<boolean> {
    const held: { claim?: TallyClaim } = {};
    let outcome: 'recorded' | 'already' | 'fence lost';
    try {
      outcome = await this.db.transaction().execute(async (tx) => {
        if (!(await this.dialect.holdFence(tx, a.brazeCohortId, a.fence))) return 'fence lost';
        held.claim = await this.tallies.claim(tx, a.runId, a.fence, items);
        return body(tx, held.claim);
      });
    } catch (error) {
      held.claim?.abandon();
      this.tallies.forget(a.runId);
      throw error;
    }
    if (outcome === 'recorded') held.claim?.commit();
    else held.claim?.release();
    return outcome !== 'fence lost';
  }

  async stageDesired(runId: string, syncs: readonly SyncPlanInput[]): Promise<void> {
    // Active syncs first: ON CONFLICT DO NOTHING keeps the first row, so a key any active sync wants stays active.
    const ordered = [...syncs].sort((a, b) => Number(b.active) - Number(a.active));
    await this.db.transaction().execute(async (tx) => {
      await this.dialect.withBulkSort(tx, async () => {
        for (const s of ordered) {
          const chain = mappingChain(s.mapping);
          const memberFilter = sql`m.cohort_id = ${s.cohortId}`;
          for (let i = 0; i < chain.length; i++) {
            for (const select of identifierSelects(
              this.dialect,
              chain[i]!,
              memberFilter,
              chosenStepSql(this.dialect, chain, i),
            )) {
              // In key order: the index (and SQLite's table, whose rowids then follow the keys) is appended to
              // rather than written at random, and the pages below read both back sequentially (docs/benchmarks.md).
              // profile_id breaks ties between members sharing an alias value: the lowest profile keeps the key.
              await sql`insert into plan_desired (run_id, ident_key, profile_id, active)
                select ${runId}, s.ident_key, s.profile_id, ${s.active ? 1 : 0} from (${select}) s where s.ident_key is not null
                order by s.ident_key, s.profile_id
                on conflict (run_id, ident_key) do nothing`.execute(tx);
            }
          }
        }
      });
    });
    await this.dialect.afterStaging(this.db);
  }

  async recordSkips(runId: string, syncs: readonly SyncPlanInput[], keep: number): Promise<Record<string, number>> {
    const active = syncs.filter((s) => s.active);
    const first = active[0];
    if (!first) return {};
    const reason = primarySkipReason(first.mapping);
    const reachedByAny = sql.join(
      active.map((s) => reachedSql(this.dialect, s.mapping)),
      sql` or `,
    );
    const skipped = sql`from cohort_members m join profiles p on p.id = m.profile_id where m.cohort_id = ${first.cohortId} and not (${reachedByAny})`;
    const count = await sql<{ n: number }>`select count(*) as n ${skipped}`.execute(this.db);
    const n = Number(count.rows[0]?.n ?? 0);
    if (n === 0) return {};
    await sql`insert into run_skips (run_id, profile_id, reason) select ${runId}, p.id, ${reason} ${skipped} order by p.id limit ${keep}`.execute(
      this.db,
    );
    return { [reason]: n };
  }

  async pageAdds(
    runId: string,
    brazeCohortId: string,
    after: string | null,
    limit: number,
  ): Promise<PlannedIdentifier[]> {
    if (this.dialect.mergesExcept && !(await this.fromChanges(runId)) && (await this.manyStaged(runId, after))) {
      // SQLite has no merge join: NOT EXISTS probes the other index once per row. A compound EXCEPT with ORDER BY
      // is run as a merge of two key-ordered index scans instead, about three times cheaper (docs/benchmarks.md);
      // only the keys of the page are then looked up for their profile. The merge also walks the acknowledged
      // keys between the staged ones, so a small staging (an incremental plan) keeps the probes below.
      const rows = await sql<{ ident_key: string; profile_id: number | null }>`
        select d.ident_key, d.profile_id from (
          select ident_key as k from plan_desired where run_id = ${runId} and ident_key > ${after ?? ''} and active = 1
          except select ident_key from braze_identifiers where braze_cohort_id = ${brazeCohortId} and ident_key > ${after ?? ''}
          order by 1 limit ${limit}
        ) x join plan_desired d on d.run_id = ${runId} and d.ident_key = x.k
        order by d.ident_key`.execute(this.db);
      return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
    }
    // The redundant range on the inner side lets PostgreSQL choose an anti-join that streams in key order and
    // stops at the page's limit, instead of one that reads everything after `after` for every page.
    const rows = await sql<{ ident_key: string; profile_id: number | null }>`
      select d.ident_key, d.profile_id from plan_desired d
      where d.run_id = ${runId} and d.active = 1 and d.ident_key > ${after ?? ''}
        and not exists (select 1 from braze_identifiers a
          where a.braze_cohort_id = ${brazeCohortId} and a.ident_key > ${after ?? ''} and a.ident_key = d.ident_key)
      order by d.ident_key limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
  }

  /**
   * Whether the run plans from the change log: its staged keys are then few beside the acknowledged ones
   * (at most a twentieth of the cohort, src/app/incremental.ts), and probing them beats walking every acknowledged key.
   */
  private async fromChanges(runId: string): Promise<boolean> {
    const r = await sql`select 1 as x from plan_profiles where run_id = ${runId} limit 1`.execute(this.db);
    return r.rows.length > 0;
  }

  /** Whether at least MERGE_MIN_STAGED staged keys of the run follow `after` (a bounded index walk). */
  private async manyStaged(runId: string, after: string | null): Promise<boolean> {
    const r = await sql<{
      x: number;
    }>`select 1 as x from plan_desired where run_id = ${runId} and ident_key > ${after ?? ''}
      order by ident_key limit 1 offset ${MERGE_MIN_STAGED - 1}`.execute(this.db);
    return r.rows.length > 0;
  }

  async pageRemoves(
    runId: string,
    brazeCohortId: string,
    after: string | null,
    limit: number,
  ): Promise<PlannedIdentifier[]> {
    if (this.dialect.mergesExcept) {
      // The same merge as pageAdds, the other way round. Every acknowledged key after `after` is read either
      // way; the merge adds one pass over the staged keys, which a full plan has just written.
      const rows = await sql<{ ident_key: string; profile_id: number | null }>`
        select a.ident_key, a.profile_id from (
          select ident_key as k from braze_identifiers where braze_cohort_id = ${brazeCohortId} and ident_key > ${after ?? ''}
          except select ident_key from plan_desired where run_id = ${runId} and ident_key > ${after ?? ''}
          order by 1 limit ${limit}
        ) x join braze_identifiers a on a.braze_cohort_id = ${brazeCohortId} and a.ident_key = x.k
        order by a.ident_key`.execute(this.db);
      return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
    }
    const rows = await sql<{ ident_key: string; profile_id: number | null }>`
      select a.ident_key, a.profile_id from braze_identifiers a
      where a.braze_cohort_id = ${brazeCohortId} and a.ident_key > ${after ?? ''}
        and not exists (select 1 from plan_desired d where d.run_id = ${runId} and d.ident_key > ${after ?? ''} and d.ident_key = a.ident_key)
      order by a.ident_key limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
  }

  async clearStaged(runId: string): Promise<void> {
    await this.dialect.clearStaged(this.db, runId);
  }

  async clearBatches(runId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('run_batches').where('run_id', '=', runId).execute();
      await tx.deleteFrom('run_skips').where('run_id', '=', runId).execute();
      await tx.deleteFrom('plan_desired').where('run_id', '=', runId).execute();
      await tx.deleteFrom('plan_candidates').where('run_id', '=', runId).execute();
    });
  }

  async appendBatch(runId: string, seq: number, batch: PlannedBatch): Promise<void> {
    await this.db
      .insertInto('run_batches')
      .values({
        run_id: runId,
        seq,
        payload: encodeBatch(batch),
        size: batch.add.length + batch.remove.length,
        status: 'pending',
        error: null,
        acked_at: null,
      })
      .execute();
  }

  async pendingBatches(runId: string, afterSeq: number, limit: number): Promise<StoredBatch[]> {
    const rows = await this.db
      .selectFrom('run_batches')
      .select(['seq', 'payload'])
      .where('run_id', '=', runId)
      .where('status', '=', 'pending')
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ seq: r.seq, batch: decodeBatch(r.payload) }));
  }

  async ackBatch(a: {
    runId: string;
    brazeCohortId: string;
    seq: number;
    fence: number;
    batch: PlannedBatch;
    now: string;
    requests: number;
    retries: number;
    note?: string | null;
    failed?: readonly { key: string; profileId: number | null; reason: string }[];
  }): Promise<boolean> {
    const failed = a.failed ?? [];
    const items = { add: a.batch.add, remove: a.batch.remove, fail: failed };
    return this.recording(a, items, async (tx, tally) => {
      const marked = await tx
        .updateTable('run_batches')
        .set({ status: 'acked', acked_at: a.now, error: a.note ?? null, counted: tally.stored })
        .where('run_id', '=', a.runId)
        .where('seq', '=', a.seq)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return 'already'; // recorded by an earlier attempt
      // Acknowledgements of one Braze cohort run one at a time on SQLite (its single writer), so their cost caps
      // delivery: one statement per block, the identifiers passed as one array or JSON value.
      if (a.batch.add.length > 0) {
        const rows = this.dialect.pairRows(
          a.batch.add.map((x) => x.key),
          a.batch.add.map((x) => x.profileId),
        );
        // Unsettled: found by profile through their own appended index until settled (acked-by-profile.ts).
        // Where the upsert is dear (PostgreSQL), a plain insert goes first when no acknowledged key of the cohort
        // lies in the batch's key range, so none of its keys can conflict (keys are unique within a run, and
        // the fence keeps any other run's acknowledgements out until this one has ended); else the upsert.
        const fresh = this.dialect.insertsAckedFirst
          ? await sql`with r as (${rows})
              insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at, settled)
              select ${a.brazeCohortId}, r.k, r.p, ${a.runId}, ${a.now}, 0 from r
              where not exists (select 1 from braze_identifiers b where b.braze_cohort_id = ${a.brazeCohortId}
                and b.ident_key >= (select min(r.k collate "C") from r) collate "C"
                and b.ident_key <= (select max(r.k collate "C") from r) collate "C")`.execute(tx)
          : null;
        if (Number(fresh?.numAffectedRows ?? 0) === 0)
          await sql`insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at, settled)
          select ${a.brazeCohortId}, r.k, r.p, ${a.runId}, ${a.now}, 0 from (${rows}) r where true
          on conflict (braze_cohort_id, ident_key) do update
          set profile_id = excluded.profile_id, run_id = excluded.run_id, acked_at = excluded.acked_at, settled = 0`.execute(
            tx,
          );
      }
      if (a.batch.remove.length > 0) {
        const list = this.dialect.textRows(a.batch.remove.map((x) => x.key));
        await sql`delete from braze_identifiers where braze_cohort_id = ${a.brazeCohortId} and ident_key in (${list})`.execute(
          tx,
        );
        const owned = a.batch.remove.filter((x) => x.profileId !== null);
        if (owned.length > 0) {
          const pairs = this.dialect.pairRows(
            owned.map((x) => x.key),
            owned.map((x) => x.profileId),
          );
          await sql`delete from braze_identifier_profiles where braze_cohort_id = ${a.brazeCohortId}
            and (profile_id, ident_key) in (select r.p, r.k from (${pairs}) r)`.execute(tx);
        }
      }
      if (failed.length > 0) await recordItemFailures(tx, a.runId, a.seq, failed);
      const users = tally.users;
      await tx
        .updateTable('runs')
        .set((eb) => ({
          added: eb('added', '+', users.add),
          removed: eb('removed', '+', users.remove),
          failed: eb('failed', '+', users.fail),
          identifiers_added: eb('identifiers_added', '+', a.batch.add.length),
          identifiers_removed: eb('identifiers_removed', '+', a.batch.remove.length),
          requests: eb('requests', '+', a.requests),
          retries: eb('retries', '+', a.retries),
        }))
        .where('id', '=', a.runId)
        .execute();
      return 'recorded';
    });
  }

  async failBatch(a: {
    runId: string;
    seq: number;
    fence: number;
    brazeCohortId: string;
    error: string;
    batch: PlannedBatch;
    requests: number;
    retries: number;
  }): Promise<boolean> {
    const items = { add: [], remove: [], fail: [...a.batch.add, ...a.batch.remove] };
    return this.recording(a, items, async (tx, tally) => {
      const marked = await tx
        .updateTable('run_batches')
        .set({ status: 'failed', error: a.error, counted: tally.stored })
        .where('run_id', '=', a.runId)
        .where('seq', '=', a.seq)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return 'already';
      const failedUsers = tally.users.fail;
      await tx
        .updateTable('runs')
        .set((eb) => ({
          failed: eb('failed', '+', failedUsers),
          requests: eb('requests', '+', a.requests),
          retries: eb('retries', '+', a.retries),
        }))
        .where('id', '=', a.runId)
        .execute();
      return 'recorded';
    });
  }

  async runBatches(runId: string, afterSeq: number, limit: number) {
    const rows = await this.db
      .selectFrom('run_batches')
      .select(['seq', 'status', 'error', 'payload'])
      .where('run_id', '=', runId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ seq: r.seq, status: r.status, error: r.error, batch: decodeBatch(r.payload) }));
  }

  async runSkips(runId: string, afterProfile: number, limit: number) {
    const rows = await this.db
      .selectFrom('run_skips')
      .select(['profile_id', 'reason'])
      .where('run_id', '=', runId)
      .where('profile_id', '>', afterProfile)
      .orderBy('profile_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ profileId: r.profile_id, reason: r.reason }));
  }

  async profiles(ids: readonly number[]) {
    const out = new Map<number, { userId: string | null; deviceIds: string[] }>();
    if (ids.length === 0) return out;
    const unique = [...new Set(ids)];
    const devices = await devicesOf(this.db, unique);
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('profiles')
        .select(['id', 'user_id'])
        .where('id', 'in', unique.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.id, { userId: r.user_id, deviceIds: devices.get(r.id) ?? [] });
    }
    return out;
  }

  // ---- Real-time syncs: the member_changes log and incremental plans -----------------------------------

  async changeHighWater(): Promise<number | null> {
    return this.dialect.changeHighWater(this.db);
  }

  async setChangeMark(runId: string, seq: number | null): Promise<void> {
    await this.db.updateTable('runs').set({ change_seq_to: seq }).where('id', '=', runId).execute();
  }

  async advanceChangeSeq(brazeCohortId: string, runId: string): Promise<void> {
    const mark = sql`(select r.change_seq_to from runs r where r.id = ${runId})`;
    await sql`update braze_cohorts set change_seq = ${mark} where id = ${brazeCohortId} and change_seq < ${mark}`.execute(
      this.db,
    );
  }

  async planBasis(brazeCohortId: string) {
    const row = await this.db
      .selectFrom('braze_cohorts')
      .select(['plan_basis', 'reconciled_at'])
      .where('id', '=', brazeCohortId)
      .executeTakeFirst();
    return { basis: row?.plan_basis ?? null, reconciledAt: row?.reconciled_at ?? null };
  }

  async forgetPlanBasis(brazeCohortId: string): Promise<void> {
    await this.db
      .updateTable('braze_cohorts')
      .set({ plan_basis: null, reconciled_at: null })
      .where('id', '=', brazeCohortId)
      .execute();
  }

  async setRunPlan(runId: string, plannedFrom: PlannedFrom, basis: string | null): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ planned_from: plannedFrom, plan_basis: plannedFrom === 'cohort' ? basis : null })
      .where('id', '=', runId)
      .execute();
  }

  async recordReconciled(brazeCohortId: string, runId: string): Promise<void> {
    const run = await this.db
      .selectFrom('runs')
      .select(['plan_basis', 'started_at'])
      .where('id', '=', runId)
      .executeTakeFirst();
    if (!run?.plan_basis) return;
    await this.db
      .updateTable('braze_cohorts')
      .set({ plan_basis: run.plan_basis, reconciled_at: run.started_at })
      .where('id', '=', brazeCohortId)
      .execute();
  }

  async changeSeq(brazeCohortId: string): Promise<number> {
    const row = await this.db
      .selectFrom('braze_cohorts')
      .select('change_seq')
      .where('id', '=', brazeCohortId)
      .executeTakeFirst();
    return Number(row?.change_seq ?? 0);
  }

  /** Whether change row `c` concerns the Braze cohort `bcId` of cohort `cohortId` (see stageChangedProfiles). */
  private concerns(bcId: RawBuilder<unknown>, cohortId: RawBuilder<unknown>): RawBuilder<boolean> {
    return sql`(c.cohort_id = ${cohortId} or (c.cohort_id is null and (
      exists (select 1 from cohort_members m where m.cohort_id = ${cohortId} and m.profile_id = c.profile_id)
      or ${hasAcked(bcId, sql`c.profile_id`)})))`;
  }

  async stageChangedProfiles(
    runId: string,
    brazeCohortId: string,
    fromSeq: number,
    toSeq: number,
    limit?: number,
  ): Promise<number> {
    const bc = await this.db
      .selectFrom('braze_cohorts')
      .select(['project_id', 'cohort_id'])
      .where('id', '=', brazeCohortId)
      .executeTakeFirst();
    // The plan looks the changed profiles' acknowledged identifiers up: settle those delivered since.
    await settle(this.db, brazeCohortId);
    return this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('plan_profiles').where('run_id', '=', runId).execute();
      if (!bc) return 0;
      const r = await sql`insert into plan_profiles (run_id, profile_id)
        select distinct ${runId}, c.profile_id from member_changes c
        where c.project_id = ${bc.project_id} and c.seq > ${fromSeq} and c.seq <= ${toSeq}
          and ${this.concerns(sql`${brazeCohortId}`, sql`${bc.cohort_id}`)}
        ${limit === undefined ? sql`` : sql`limit ${limit}`}`.execute(tx);
      return Number(r.numAffectedRows ?? 0);
    });
  }

  private changedProfiles(runId: string): RawBuilder<unknown> {
    return sql`select pp.profile_id from plan_profiles pp where pp.run_id = ${runId}`;
  }

  async stageDesiredFor(runId: string, syncs: readonly SyncPlanInput[]): Promise<void> {
    const ordered = [...syncs].sort((a, b) => Number(b.active) - Number(a.active));
    await this.db.transaction().execute(async (tx) => {
      for (const s of ordered) {
        const chain = mappingChain(s.mapping);
        const memberFilter = sql`m.cohort_id = ${s.cohortId} and m.profile_id in (${this.changedProfiles(runId)})`;
        for (let i = 0; i < chain.length; i++) {
          for (const select of identifierSelects(
            this.dialect,
            chain[i]!,
            memberFilter,
            chosenStepSql(this.dialect, chain, i),
          )) {
            await sql`insert into plan_desired (run_id, ident_key, profile_id, active)
              select ${runId}, s.ident_key, s.profile_id, ${s.active ? 1 : 0} from (${select}) s where s.ident_key is not null
              order by s.ident_key, s.profile_id
              on conflict (run_id, ident_key) do nothing`.execute(tx);
          }
        }
      }
    });
  }

  async recordSkipsFor(runId: string, syncs: readonly SyncPlanInput[], keep: number): Promise<Record<string, number>> {
    const active = syncs.filter((s) => s.active);
    const first = active[0];
    if (!first) return {};
    const reason = primarySkipReason(first.mapping);
    const reachedByAny = sql.join(
      active.map((s) => reachedSql(this.dialect, s.mapping)),
      sql` or `,
    );
    const skipped = sql`from cohort_members m join profiles p on p.id = m.profile_id
      where m.cohort_id = ${first.cohortId} and m.profile_id in (${this.changedProfiles(runId)}) and not (${reachedByAny})`;
    const count = await sql<{ n: number }>`select count(*) as n ${skipped}`.execute(this.db);
    const n = Number(count.rows[0]?.n ?? 0);
    if (n === 0) return {};
    await sql`insert into run_skips (run_id, profile_id, reason) select ${runId}, p.id, ${reason} ${skipped} order by p.id limit ${keep}`.execute(
      this.db,
    );
    return { [reason]: n };
  }

  async pageRemovesFor(
    runId: string,
    brazeCohortId: string,
    syncs: readonly SyncPlanInput[],
    after: string | null,
    limit: number,
  ): Promise<PlannedIdentifier[]> {
    // The candidates are found once, on the first page, into a key-ordered table: found again for every page,
    // a plan with many changed profiles cost pages × profiles. Duplicates (a key acknowledged for a changed
    // profile that only a changed profile can produce) fall out on the primary key, and neither UNION nor
    // ORDER BY is asked of the query: SQLite then merges the branches in key order, reading every
    // acknowledged key of the cohort through its primary key (1.2 s instead of 2 ms at 1M members, 100 changes).
    if (after === null) await this.stageCandidates(runId, brazeCohortId, syncs);
    const rows = await sql<{ ident_key: string; profile_id: number | null }>`
      select c.ident_key, c.profile_id from plan_candidates c
      where c.run_id = ${runId} and c.ident_key > ${after ?? ''}
        and not exists (select 1 from plan_desired d where d.run_id = ${runId} and d.ident_key = c.ident_key)
      order by c.ident_key limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
  }

  /** Removal candidates of an incremental plan: identifiers acknowledged for the changed profiles, or that only they can produce. */
  private async stageCandidates(runId: string, brazeCohortId: string, syncs: readonly SyncPlanInput[]): Promise<void> {
    const changed = this.changedProfiles(runId);
    const labels = [...new Set(syncs.flatMap((s) => userIdAliasLabels(s.mapping)))];
    // Keys only a changed profile can produce, whichever profile they were acknowledged for.
    const ownKeys = [
      sql`select 'e:' || p.user_id as k from profiles p where p.id in (${changed}) and p.user_id is not null`,
      sql`select 'd:' || d.device_id as k from profile_devices d where d.profile_id in (${changed})`,
      ...labels.map(
        (label) =>
          sql`select cast(${aliasKeyPrefix(label)} as text) || p.user_id as k from profiles p where p.id in (${changed}) and p.user_id is not null`,
      ),
    ];
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('plan_candidates').where('run_id', '=', runId).execute();
      await sql`insert into plan_candidates (run_id, ident_key, profile_id)
        select ${runId}, c.ident_key, c.profile_id from (
          select o.ident_key, o.profile_id from (${ackedOfProfiles(sql`${brazeCohortId}`, changed)}) o
          union all
          select a.ident_key, a.profile_id from braze_identifiers a where a.braze_cohort_id = ${brazeCohortId} and a.ident_key in (${sql.join(ownKeys, sql` union all `)})
        ) c
        where true
        on conflict (run_id, ident_key) do nothing`.execute(tx);
    });
  }

  async clearChangedProfiles(runId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('plan_profiles').where('run_id', '=', runId).execute();
      await tx.deleteFrom('plan_candidates').where('run_id', '=', runId).execute();
    });
  }

  async hasPendingChanges(brazeCohortId: string): Promise<boolean> {
    const r = await sql`select 1 as x from braze_cohorts b
      join member_changes c on c.project_id = b.project_id and c.seq > b.change_seq
      where b.id = ${brazeCohortId} and ${this.concerns(sql`b.id`, sql`b.cohort_id`)}
      limit 1`.execute(this.db);
    return r.rows.length > 0;
  }

  async realtimeSyncsWithPendingChanges(failedSince: string): Promise<string[]> {
    const r = await sql<{ braze_cohort_ref: string; id: string }>`
      select s.braze_cohort_ref, min(s.id) as id from syncs s join braze_cohorts b on b.id = s.braze_cohort_ref
      where s.cadence = 'real_time' and s.paused = 0
        and not exists (select 1 from runs r where r.braze_cohort_id = b.id and r.status in ('queued', 'running'))
        and not exists (select 1 from runs r where r.braze_cohort_id = b.id and r.status = 'failed' and r.finished_at > ${failedSince})
        and exists (select 1 from member_changes c where c.project_id = b.project_id and c.seq > b.change_seq
          and ${this.concerns(sql`b.id`, sql`b.cohort_id`)})
      group by s.braze_cohort_ref`.execute(this.db);
    return r.rows.map((row) => row.id);
  }

  async pruneChanges(): Promise<number> {
    // A Braze cohort with syncs needs every change after its change_seq; one without syncs needs none (a new
    // sync starts with a full run). Projects without synced Braze cohorts keep nothing.
    const needed = await sql<{ project_id: string; upto: number }>`
      select b.project_id, min(b.change_seq) as upto from braze_cohorts b
      where exists (select 1 from syncs s where s.braze_cohort_ref = b.id) group by b.project_id`.execute(this.db);
    const upto = new Map(needed.rows.map((r) => [r.project_id, Number(r.upto)]));
    const projects = await this.db.selectFrom('member_changes').select('project_id').distinct().execute();
    let deleted = 0;
    for (const { project_id } of projects) {
      let q = this.db.deleteFrom('member_changes').where('project_id', '=', project_id);
      const limit = upto.get(project_id);
      if (limit !== undefined) q = q.where('seq', '<=', limit);
      const r = await q.executeTakeFirst();
      deleted += Number(r.numDeletedRows);
    }
    return deleted;
  }

  async lastTouch(brazeCohortId: string, key: string): Promise<IdentifierTouch | undefined> {
    // Batch payloads hold [key, profileId] pairs as JSON; `["<key>",` matches exactly one key.
    const needle = `[${JSON.stringify(key)},`;
    const contains = this.dialect.contains(sql`b.payload`, needle);
    const rows = await sql<{
      run_id: string;
      seq: number;
      status: string;
      error: string | null;
      acked_at: string | null;
      payload: string;
    }>`
      select b.run_id, b.seq, b.status, b.error, b.acked_at, b.payload from run_batches b join runs r on r.id = b.run_id
      where r.braze_cohort_id = ${brazeCohortId} and ${contains}
      order by r.queued_at desc, r.id desc, b.seq desc limit 1`.execute(this.db);
    const row = rows.rows[0];
    if (!row) return undefined;
    const batch = decodeBatch(row.payload);
    return {
      runId: row.run_id,
      seq: Number(row.seq),
      operation: batch.add.some((i) => i.key === key) ? 'add' : 'remove',
      status: row.status as IdentifierTouch['status'],
      error: row.error,
      ackedAt: row.acked_at,
    };
  }
}
