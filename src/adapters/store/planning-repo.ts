// Delta planning inside the store: the desired identifiers of a Braze cohort are staged in an indexed
// table, and adds / removes are anti-joins against the acknowledged identifiers, read in key-ordered pages.
// JavaScript only ever holds one page, so memory does not grow with the cohort.
import { sql, type Kysely } from 'kysely';
import type { PlannedBatch, PlannedIdentifier } from '../../domain/batching.ts';
import { mappingChain, primarySkipReason } from '../../domain/mapping.ts';
import type { PlanningRepo, StoredBatch, SyncPlanInput } from '../../ports/store.ts';
import type { Engine } from './db.ts';
import type { Database } from './schema.ts';
import { chosenStepSql, identifierSelects, reachedSql } from './mapping-sql.ts';
import { devicesOf } from './membership-repo.ts';
import { parseJson } from './json.ts';

type BatchPayload = { add: [string, number | null][]; remove: [string, number | null][] };

const encodeBatch = (b: PlannedBatch): string =>
  JSON.stringify({ add: b.add.map((i) => [i.key, i.profileId]), remove: b.remove.map((i) => [i.key, i.profileId]) } satisfies BatchPayload);

export function decodeBatch(payload: string): PlannedBatch {
  const p = parseJson<BatchPayload>(payload, { add: [], remove: [] });
  const item = ([key, profileId]: [string, number | null]): PlannedIdentifier => ({ key, profileId });
  return { add: p.add.map(item), remove: p.remove.map(item) };
}

export class KyselyPlanningRepo implements PlanningRepo {
  constructor(private readonly db: Kysely<Database>, private readonly engine: Engine) {}

  async stageDesired(runId: string, syncs: readonly SyncPlanInput[]): Promise<void> {
    // Active syncs first: ON CONFLICT DO NOTHING keeps the first row, so a key any active sync wants stays active.
    const ordered = [...syncs].sort((a, b) => Number(b.active) - Number(a.active));
    await this.db.transaction().execute(async (tx) => {
      for (const s of ordered) {
        const chain = mappingChain(s.mapping);
        const memberFilter = sql`m.cohort_id = ${s.cohortId}`;
        for (let i = 0; i < chain.length; i++) {
          for (const select of identifierSelects(this.engine, chain[i]!, memberFilter, chosenStepSql(this.engine, chain, i))) {
            await sql`insert into plan_desired (run_id, ident_key, profile_id, active)
              select ${runId}, s.ident_key, s.profile_id, ${s.active ? 1 : 0} from (${select}) s where s.ident_key is not null
              on conflict (run_id, ident_key) do nothing`.execute(tx);
          }
        }
      }
    });
  }

  async recordSkips(runId: string, syncs: readonly SyncPlanInput[], keep: number): Promise<Record<string, number>> {
    const active = syncs.filter((s) => s.active);
    const first = active[0];
    if (!first) return {};
    const reason = primarySkipReason(first.mapping);
    const reachedByAny = sql.join(active.map((s) => reachedSql(this.engine, s.mapping)), sql` or `);
    const skipped = sql`from cohort_members m join profiles p on p.id = m.profile_id where m.cohort_id = ${first.cohortId} and not (${reachedByAny})`;
    const count = await sql<{ n: number }>`select count(*) as n ${skipped}`.execute(this.db);
    const n = Number(count.rows[0]?.n ?? 0);
    if (n === 0) return {};
    await sql`insert into run_skips (run_id, profile_id, reason) select ${runId}, p.id, ${reason} ${skipped} order by p.id limit ${keep}`.execute(this.db);
    return { [reason]: n };
  }

  async pageAdds(runId: string, brazeCohortId: string, after: string | null, limit: number): Promise<PlannedIdentifier[]> {
    const rows = await sql<{ ident_key: string; profile_id: number | null }>`
      select d.ident_key, d.profile_id from plan_desired d
      where d.run_id = ${runId} and d.active = 1 and d.ident_key > ${after ?? ''}
        and not exists (select 1 from braze_identifiers a where a.braze_cohort_id = ${brazeCohortId} and a.ident_key = d.ident_key)
      order by d.ident_key limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
  }

  async pageRemoves(runId: string, brazeCohortId: string, after: string | null, limit: number): Promise<PlannedIdentifier[]> {
    const rows = await sql<{ ident_key: string; profile_id: number | null }>`
      select a.ident_key, a.profile_id from braze_identifiers a
      where a.braze_cohort_id = ${brazeCohortId} and a.ident_key > ${after ?? ''}
        and not exists (select 1 from plan_desired d where d.run_id = ${runId} and d.ident_key = a.ident_key)
      order by a.ident_key limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ key: r.ident_key, profileId: r.profile_id }));
  }

  async clearStaged(runId: string): Promise<void> {
    await this.db.deleteFrom('plan_desired').where('run_id', '=', runId).execute();
  }

  async clearBatches(runId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('run_batches').where('run_id', '=', runId).execute();
      await tx.deleteFrom('run_skips').where('run_id', '=', runId).execute();
      await tx.deleteFrom('plan_desired').where('run_id', '=', runId).execute();
    });
  }

  async appendBatch(runId: string, seq: number, batch: PlannedBatch): Promise<void> {
    await this.db
      .insertInto('run_batches')
      .values({ run_id: runId, seq, payload: encodeBatch(batch), size: batch.add.length + batch.remove.length, status: 'pending', error: null, acked_at: null })
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

  async ackBatch(a: { runId: string; brazeCohortId: string; seq: number; fence: number; batch: PlannedBatch; now: string; requests: number; retries: number }): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // An UPDATE (not a SELECT) so PostgreSQL locks the lease row until commit: a newer fence cannot slip in.
      const held = await tx.updateTable('braze_cohorts').set({ fence: a.fence }).where('id', '=', a.brazeCohortId).where('fence', '=', a.fence).executeTakeFirst();
      if (Number(held.numUpdatedRows) === 0) return false;
      const marked = await tx
        .updateTable('run_batches')
        .set({ status: 'acked', acked_at: a.now })
        .where('run_id', '=', a.runId)
        .where('seq', '=', a.seq)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return true; // already recorded by an earlier attempt
      for (let i = 0; i < a.batch.add.length; i += 200) {
        const chunk = a.batch.add.slice(i, i + 200);
        await tx
          .insertInto('braze_identifiers')
          .values(chunk.map((x) => ({ braze_cohort_id: a.brazeCohortId, ident_key: x.key, profile_id: x.profileId, run_id: a.runId, acked_at: a.now })))
          .onConflict((oc) => oc.columns(['braze_cohort_id', 'ident_key']).doUpdateSet((eb) => ({ profile_id: eb.ref('excluded.profile_id'), run_id: eb.ref('excluded.run_id'), acked_at: eb.ref('excluded.acked_at') })))
          .execute();
      }
      for (let i = 0; i < a.batch.remove.length; i += 500) {
        const keys = a.batch.remove.slice(i, i + 500).map((x) => x.key);
        await tx.deleteFrom('braze_identifiers').where('braze_cohort_id', '=', a.brazeCohortId).where('ident_key', 'in', keys).execute();
      }
      await tx
        .updateTable('runs')
        .set((eb) => ({
          added: eb('added', '+', a.batch.add.length),
          removed: eb('removed', '+', a.batch.remove.length),
          requests: eb('requests', '+', a.requests),
          retries: eb('retries', '+', a.retries),
        }))
        .where('id', '=', a.runId)
        .execute();
      return true;
    });
  }

  async failBatch(a: { runId: string; seq: number; fence: number; brazeCohortId: string; error: string; size: number; requests: number; retries: number }): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const held = await tx.updateTable('braze_cohorts').set({ fence: a.fence }).where('id', '=', a.brazeCohortId).where('fence', '=', a.fence).executeTakeFirst();
      if (Number(held.numUpdatedRows) === 0) return false;
      const marked = await tx.updateTable('run_batches').set({ status: 'failed', error: a.error }).where('run_id', '=', a.runId).where('seq', '=', a.seq).where('status', '=', 'pending').executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return true;
      await tx
        .updateTable('runs')
        .set((eb) => ({ failed: eb('failed', '+', a.size), requests: eb('requests', '+', a.requests), retries: eb('retries', '+', a.retries) }))
        .where('id', '=', a.runId)
        .execute();
      return true;
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
      const rows = await this.db.selectFrom('profiles').select(['id', 'user_id']).where('id', 'in', unique.slice(i, i + 500)).execute();
      for (const r of rows) out.set(r.id, { userId: r.user_id, deviceIds: devices.get(r.id) ?? [] });
    }
    return out;
  }
}
