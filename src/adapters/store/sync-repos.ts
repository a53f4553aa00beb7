// Syncs, Braze cohorts (acknowledged state's owner and the run lease) and runs.
import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  BrazeCohort,
  Cadence,
  PlannedFrom,
  Run,
  RunMode,
  RunStatus,
  RunTrigger,
  Sync,
} from '../../domain/model.ts';
import type { AudiencesRepo, Page, RunsRepo, SyncsRepo } from '../../ports/store.ts';
import { ackedOfProfiles } from './acked-by-profile.ts';
import { decodeCursor, encodeCursor, parseJson, toJson } from './json.ts';
import type { BrazeCohortsTable, Database, RunsTable, SyncsTable } from './schema.ts';

const toSync = (r: Selectable<SyncsTable>): Sync => ({
  id: r.id,
  projectId: r.project_id,
  cohortId: r.cohort_id,
  targetId: r.target_id,
  audienceRef: r.braze_cohort_ref,
  cadence: r.cadence as Cadence,
  cron: r.cron,
  paused: r.paused === 1,
  notifyEmails: parseJson<string[]>(r.notify_emails, []),
  nextRunAt: r.next_run_at,
  attribute: r.attribute_name === null ? null : { name: r.attribute_name, value: r.attribute_value },
  createdAt: r.created_at,
});

export class KyselySyncsRepo implements SyncsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(s: Omit<Sync, 'paused'> & { paused?: boolean }) {
    const row = await this.db
      .insertInto('syncs')
      .values({
        id: s.id,
        project_id: s.projectId,
        cohort_id: s.cohortId,
        target_id: s.targetId,
        braze_cohort_ref: s.audienceRef,
        cadence: s.cadence,
        cron: s.cron,
        paused: s.paused ? 1 : 0,
        notify_emails: toJson(s.notifyEmails),
        next_run_at: s.nextRunAt,
        attribute_name: s.attribute?.name ?? null,
        attribute_value: s.attribute?.value ?? null,
        created_at: s.createdAt,
        updated_at: s.createdAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSync(row);
  }

  async get(projectId: string, id: string) {
    const row = await this.db
      .selectFrom('syncs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSync(row);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('syncs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toSync(row);
  }

  async list(projectId: string, filter: { cohortId?: string; targetId?: string } = {}) {
    let q = this.db.selectFrom('syncs').selectAll().where('project_id', '=', projectId);
    if (filter.cohortId) q = q.where('cohort_id', '=', filter.cohortId);
    if (filter.targetId) q = q.where('target_id', '=', filter.targetId);
    return (await q.orderBy('created_at').orderBy('id').execute()).map(toSync);
  }

  async listByAudience(brazeCohortId: string) {
    return (
      await this.db
        .selectFrom('syncs')
        .selectAll()
        .where('braze_cohort_ref', '=', brazeCohortId)
        .orderBy('created_at')
        .execute()
    ).map(toSync);
  }

  async update(
    projectId: string,
    id: string,
    patch: {
      paused?: boolean;
      cadence?: Cadence;
      cron?: string | null;
      notifyEmails?: readonly string[];
      nextRunAt?: string | null;
    },
    now: string,
  ) {
    const row = await this.db
      .updateTable('syncs')
      .set({
        updated_at: now,
        ...(patch.paused !== undefined ? { paused: patch.paused ? 1 : 0 } : {}),
        ...(patch.cadence !== undefined ? { cadence: patch.cadence } : {}),
        ...(patch.cron !== undefined ? { cron: patch.cron } : {}),
        ...(patch.notifyEmails !== undefined ? { notify_emails: toJson(patch.notifyEmails) } : {}),
        ...(patch.nextRunAt !== undefined ? { next_run_at: patch.nextRunAt } : {}),
      })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toSync(row);
  }

  async delete(projectId: string, id: string) {
    await this.db.deleteFrom('syncs').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async due(now: string, limit: number) {
    const rows = await this.db
      .selectFrom('syncs')
      .selectAll()
      .where('next_run_at', 'is not', null)
      .where('next_run_at', '<=', now)
      .where('paused', '=', 0)
      .orderBy('next_run_at')
      .limit(limit)
      .execute();
    return rows.map(toSync);
  }

  async claimDue(id: string, expected: string, next: string | null, now: string) {
    const r = await this.db
      .updateTable('syncs')
      .set({ next_run_at: next, updated_at: now })
      .where('id', '=', id)
      .where('next_run_at', '=', expected)
      .where('paused', '=', 0)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

const toBrazeCohort = (r: Selectable<BrazeCohortsTable>): BrazeCohort => ({
  id: r.id,
  projectId: r.project_id,
  workspaceKey: r.workspace_key,
  cohortId: r.cohort_id,
  namedAs: r.named_as,
  createdAt: r.created_at,
});

export class KyselyAudiencesRepo implements AudiencesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async ensure(b: { id: string; projectId: string; workspaceKey: string; cohortId: string; now: string }) {
    await this.db
      .insertInto('braze_cohorts')
      .values({
        id: b.id,
        project_id: b.projectId,
        workspace_key: b.workspaceKey,
        cohort_id: b.cohortId,
        named_as: null,
        created_at: b.now,
        lease_owner: null,
        lease_until: null,
        fence: 0,
        dirty: 0,
        change_seq: 0,
      })
      .onConflict((oc) => oc.columns(['workspace_key', 'cohort_id']).doNothing())
      .execute();
    const row = await this.db
      .selectFrom('braze_cohorts')
      .selectAll()
      .where('workspace_key', '=', b.workspaceKey)
      .where('cohort_id', '=', b.cohortId)
      .executeTakeFirstOrThrow();
    return toBrazeCohort(row);
  }

  async get(id: string) {
    const row = await this.db.selectFrom('braze_cohorts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBrazeCohort(row);
  }

  async markNamed(id: string, name: string) {
    await this.db.updateTable('braze_cohorts').set({ named_as: name }).where('id', '=', id).execute();
  }

  async acquireLease(id: string, owner: string, now: Date, ttlMs: number) {
    const row = await this.db
      .updateTable('braze_cohorts')
      .set((eb) => ({
        lease_owner: owner,
        lease_until: new Date(now.getTime() + ttlMs).toISOString(),
        fence: eb('fence', '+', 1),
      }))
      .where('id', '=', id)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', now.toISOString())]))
      .returning('fence')
      .executeTakeFirst();
    return row ? Number(row.fence) : null;
  }

  async renewLease(id: string, fence: number, now: Date, ttlMs: number) {
    const r = await this.db
      .updateTable('braze_cohorts')
      .set({ lease_until: new Date(now.getTime() + ttlMs).toISOString() })
      .where('id', '=', id)
      .where('fence', '=', fence)
      .where('lease_owner', 'is not', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async releaseLease(id: string, fence: number) {
    const r = await this.db
      .updateTable('braze_cohorts')
      .set({ lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('fence', '=', fence)
      .where('dirty', '=', 0)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async abandonLease(id: string, fence: number) {
    await this.db
      .updateTable('braze_cohorts')
      .set({ lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('fence', '=', fence)
      .execute();
  }

  async voidLeases() {
    const r = await this.db
      .updateTable('braze_cohorts')
      .set({ lease_owner: null, lease_until: null })
      .where('lease_owner', 'is not', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async markDirty(id: string) {
    await this.db.updateTable('braze_cohorts').set({ dirty: 1 }).where('id', '=', id).execute();
  }

  async takeDirty(id: string, fence: number) {
    const r = await this.db
      .updateTable('braze_cohorts')
      .set({ dirty: 0 })
      .where('id', '=', id)
      .where('fence', '=', fence)
      .where('dirty', '=', 1)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async orphaned(now: Date) {
    const rows = await sql<{ id: string }>`
      select distinct b.id from braze_cohorts b join runs r on r.braze_cohort_id = b.id
      where r.status in ('queued', 'running') and (b.lease_owner is null or b.lease_until < ${now.toISOString()})`.execute(
      this.db,
    );
    return rows.rows.map((r) => r.id);
  }

  async ackedCount(id: string) {
    const row = await this.db
      .selectFrom('braze_identifiers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('braze_cohort_id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async ackedFor(id: string, keys: readonly string[]) {
    if (keys.length === 0) return [];
    const rows = await this.db
      .selectFrom('braze_identifiers')
      .select(['ident_key', 'run_id', 'acked_at'])
      .where('braze_cohort_id', '=', id)
      .where('ident_key', 'in', keys)
      .execute();
    return rows.map((r) => ({ key: r.ident_key, runId: r.run_id, ackedAt: r.acked_at }));
  }

  async ackedForProfile(id: string, profileId: number) {
    const rows = (
      await sql<{ ident_key: string; run_id: string; acked_at: string }>`select o.ident_key, o.run_id, o.acked_at
        from (${ackedOfProfiles(sql`${id}`, sql`${profileId}`)}) o order by o.ident_key`.execute(this.db)
    ).rows;
    return rows.map((r) => ({ key: r.ident_key, runId: r.run_id, ackedAt: r.acked_at }));
  }
}

const toRun = (r: Selectable<RunsTable>): Run => ({
  id: r.id,
  projectId: r.project_id,
  syncId: r.sync_id,
  brazeCohortId: r.braze_cohort_id,
  status: r.status as RunStatus,
  trigger: r.trigger as RunTrigger,
  phase: r.phase as Run['phase'],
  mode: r.mode as RunMode,
  queuedAt: r.queued_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  counts: { added: Number(r.added), removed: Number(r.removed), skipped: Number(r.skipped), failed: Number(r.failed) },
  identifiers: { added: Number(r.identifiers_added), removed: Number(r.identifiers_removed) },
  requests: Number(r.requests),
  retries: Number(r.retries),
  skipReasons: parseJson<Record<string, number>>(r.skip_reasons, {}),
  totalBatches: Number(r.total_batches),
  error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
  reconcile: Number(r.reconcile) === 1,
  plannedFrom: (r.planned_from as PlannedFrom | null) ?? null,
});

export class KyselyRunsRepo implements RunsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(r: {
    id: string;
    projectId: string;
    syncId: string;
    brazeCohortId: string;
    trigger: RunTrigger;
    mode: RunMode;
    now: string;
    reconcile?: boolean;
  }) {
    const row = await this.db
      .insertInto('runs')
      .values({
        id: r.id,
        project_id: r.projectId,
        sync_id: r.syncId,
        braze_cohort_id: r.brazeCohortId,
        status: 'queued',
        trigger: r.trigger,
        phase: 'queued',
        mode: r.mode,
        queued_at: r.now,
        started_at: null,
        finished_at: null,
        added: 0,
        removed: 0,
        skipped: 0,
        failed: 0,
        requests: 0,
        retries: 0,
        skip_reasons: '{}',
        total_batches: 0,
        error_code: null,
        error_message: null,
        reconcile: r.reconcile ? 1 : 0,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRun(row);
  }

  async get(projectId: string, id: string) {
    const row = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRun(row);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  async list(
    projectId: string,
    filter: { syncId?: string; status?: RunStatus; from?: string; to?: string },
    limit: number,
    cursor: string | null,
  ): Promise<Page<Run>> {
    const after = decodeCursor<[string, string]>(cursor);
    let q = this.db.selectFrom('runs').selectAll().where('project_id', '=', projectId);
    if (filter.syncId) q = q.where('sync_id', '=', filter.syncId);
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.from) q = q.where('queued_at', '>=', filter.from);
    if (filter.to) q = q.where('queued_at', '<', filter.to);
    if (after)
      q = q.where((eb) =>
        eb.or([eb('queued_at', '<', after[0]), eb.and([eb('queued_at', '=', after[0]), eb('id', '<', after[1])])]),
      );
    const rows = await q
      .orderBy('queued_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toRun),
      nextCursor: rows.length > limit && last ? encodeCursor([last.queued_at, last.id]) : null,
    };
  }

  async nextUnfinished(brazeCohortId: string) {
    const row = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('braze_cohort_id', '=', brazeCohortId)
      .where('status', 'in', ['queued', 'running'])
      .orderBy('queued_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return row && toRun(row);
  }

  async queuedFor(syncId: string, mode: RunMode) {
    const row = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('sync_id', '=', syncId)
      .where('status', '=', 'queued')
      .where('mode', '=', mode)
      .orderBy('queued_at')
      .limit(1)
      .executeTakeFirst();
    return row && toRun(row);
  }

  async askReconcile(id: string) {
    const row = await this.db
      .updateTable('runs')
      .set({ reconcile: 1 })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row && toRun(row);
  }

  async progress(id: string) {
    const rows = await this.db
      .selectFrom('run_batches')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('run_id', '=', id)
      .groupBy('status')
      .execute();
    const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
    const pending = Number(rows.find((r) => r.status === 'pending')?.n ?? 0);
    return { done: total - pending, total };
  }

  async start(id: string, now: string) {
    await this.db
      .updateTable('runs')
      .set({ status: 'running', phase: 'planning', started_at: now })
      .where('id', '=', id)
      .execute();
  }

  async setPlanned(id: string, totals: { totalBatches: number; skipped: number; skipReasons: Record<string, number> }) {
    await this.db
      .updateTable('runs')
      .set({
        phase: 'sending',
        total_batches: totals.totalBatches,
        skipped: totals.skipped,
        skip_reasons: toJson(totals.skipReasons),
      })
      .where('id', '=', id)
      .execute();
  }

  async addStats(id: string, delta: { requests?: number; retries?: number }) {
    await this.db
      .updateTable('runs')
      .set((eb) => ({
        requests: eb('requests', '+', delta.requests ?? 0),
        retries: eb('retries', '+', delta.retries ?? 0),
      }))
      .where('id', '=', id)
      .execute();
  }

  async finish(id: string, status: RunStatus, now: string, error: { code: string; message: string } | null = null) {
    const row = await this.db
      .updateTable('runs')
      .set({
        status,
        phase: 'done',
        finished_at: now,
        error_code: error?.code ?? null,
        error_message: error?.message ?? null,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // The users a run counted matter only while it may still be resumed (src/adapters/store/run-counts.ts).
    await this.db.deleteFrom('run_counted_users').where('run_id', '=', id).execute();
    return toRun(row);
  }

  async logRequest(runId: string, at: string, entry: unknown) {
    await this.db
      .insertInto('run_requests')
      .values({ run_id: runId, at, entry: toJson(entry) })
      .execute();
  }

  async requests(runId: string, limit: number, cursor: string | null) {
    const after = decodeCursor<number>(cursor) ?? 0;
    const rows = await this.db
      .selectFrom('run_requests')
      .select(['id', 'at', 'entry'])
      .where('run_id', '=', runId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ at: r.at, entry: parseJson<unknown>(r.entry, null) })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null,
    };
  }

  async prune(before: string) {
    return this.db.transaction().execute(async (tx) => {
      const old = tx
        .selectFrom('runs')
        .select('id')
        .where('finished_at', '<', before)
        .where('status', 'in', ['succeeded', 'failed', 'cancelled']);
      await tx.deleteFrom('run_batches').where('run_id', 'in', old).execute();
      await tx.deleteFrom('run_skips').where('run_id', 'in', old).execute();
      await tx.deleteFrom('run_requests').where('run_id', 'in', old).execute();
      await tx.deleteFrom('run_item_failures').where('run_id', 'in', old).execute();
      const r = await tx
        .deleteFrom('runs')
        .where('finished_at', '<', before)
        .where('status', 'in', ['succeeded', 'failed', 'cancelled'])
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    });
  }
}
