// Behavioral evaluation in the store: one INSERT … SELECT stages the profiles the compiled definition
// accepts, and anti-joins against cohort_members apply the difference — the same shape as a CSV replace
// (membership-repo.ts), so real-time syncs see ordinary member_changes rows. Nothing about individual users
// passes through JavaScript: memory stays flat however many profiles and events there are.
import { randomUUID } from 'node:crypto';
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { type Definition, isEvent } from '../../domain/behavioral.ts';
import type { BehavioralRepo, EvaluationInput, EvaluationScope, MemberChangeResult } from '../../ports/store.ts';
import { type CompileOptions, definitionSql, eventCountSql } from './behavioral-sql.ts';
import type { StoreDialect } from './dialect.ts';
import type { Database } from './schema.ts';
import { recordSizePoint } from './size-history.ts';

type Tx = Transaction<Database> | Kysely<Database>;

const SCOPE_CHUNK = 500;
/** Scope ids staged per statement: they travel as one parameter (dialect.intRows), not as bound values. */
const SCOPE_IDS_PER_STATEMENT = 10_000;

const count = (r: { numAffectedRows?: bigint }) => Number(r.numAffectedRows ?? 0);

export class KyselyBehavioralRepo implements BehavioralRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
  ) {}

  private options(alias: string, nowMs: number, retentionDays: number): CompileOptions {
    return {
      dialect: this.dialect,
      profileId: `${alias}.id`,
      properties: `${alias}.properties`,
      nowMs,
      retentionDays,
    };
  }

  async evaluate(input: EvaluationInput): Promise<(MemberChangeResult & { size: number }) | null> {
    return this.db.transaction().execute((tx) => this.evaluateIn(tx, input));
  }

  async evaluateMany(inputs: readonly EvaluationInput[]): Promise<((MemberChangeResult & { size: number }) | null)[]> {
    if (inputs.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const out: ((MemberChangeResult & { size: number }) | null)[] = [];
      for (const input of inputs) out.push(await this.evaluateIn(tx, input));
      return out;
    });
  }

  private async evaluateIn(tx: Tx, input: EvaluationInput): Promise<(MemberChangeResult & { size: number }) | null> {
    // Evaluations of one cohort take turns (PostgreSQL; SQLite has one writer anyway): two overlapping
    // diffs against cohort_members would log the same change twice and miscount the size.
    const cohort = await sql<{ size: number }>`select size from cohorts
      where id = ${input.cohortId} and project_id = ${input.projectId}${this.dialect.forUpdate}`.execute(tx);
    if (cohort.rows.length === 0) return null;
    if (input.scope.kind === 'profiles' && this.dialect.engine === 'postgres')
      return this.evaluateProfilesPg(tx, input, input.scope, Number(cohort.rows[0]!.size));
    const evalId = `ev_${randomUUID()}`;
    const scoped = input.scope.kind !== 'all';
    if (input.scope.kind === 'profiles')
      await this.stageScope(tx, evalId, input.scope.ids, input.cohortId, input.scope.joinOnly ?? []);
    if (input.scope.kind === 'aged') await this.stageAged(tx, evalId, input.projectId, input.scope);
    const predicate = definitionSql(input.definition, {
      ...this.options('p', input.nowMs, input.retentionDays),
      ...(scoped ? {} : { wholeProject: input.projectId }),
    });
    if (!scoped) await this.dialect.beforeBulkEvaluation(tx);
    // The scope drives, each profile found by id and the predicate decided for it alone; otherwise the
    // planner may walk every profile of the project, deciding the predicate (its event subqueries) for each,
    // and only then join the scope. CROSS JOIN fixes that order on SQLite. On PostgreSQL a LATERAL subquery
    // behind OFFSET 0 (which the planner cannot flatten) does: with the statistics of a work table that
    // fills and empties, it chose the walk — 10,000 predicate decisions for a scope of 142, ~170 ms per
    // cohort and pass (docs/benchmarks.md, "Event-to-Braze latency while ingesting").
    if (scoped && this.dialect.engine === 'postgres')
      await sql`insert into behavioral_desired (eval_id, profile_id)
        select ${evalId}, q.id from behavioral_scope s cross join lateral (
          select p.id from profiles p
          where p.id = s.profile_id and p.project_id = ${input.projectId} and ${predicate} offset 0) q
        where s.eval_id = ${evalId}`.execute(tx);
    else if (scoped)
      await sql`insert into behavioral_desired (eval_id, profile_id)
        select ${evalId}, p.id from behavioral_scope s cross join profiles p
        where p.id = s.profile_id and s.eval_id = ${evalId} and p.project_id = ${input.projectId} and ${predicate}`.execute(
        tx,
      );
    else
      await sql`insert into behavioral_desired (eval_id, profile_id)
        select ${evalId}, p.id from profiles p where p.project_id = ${input.projectId} and ${predicate}`.execute(tx);

    const inScope = scoped
      ? sql`and m.profile_id in (select s.profile_id from behavioral_scope s where s.eval_id = ${evalId})`
      : sql``;
    const leaving = sql`select m.profile_id from cohort_members m where m.cohort_id = ${input.cohortId} ${inScope}
      and not exists (select 1 from behavioral_desired d where d.eval_id = ${evalId} and d.profile_id = m.profile_id)`;
    const joining = sql`select d.profile_id from behavioral_desired d where d.eval_id = ${evalId}
      and not exists (select 1 from cohort_members m where m.cohort_id = ${input.cohortId} and m.profile_id = d.profile_id)`;
    const at = new Date(input.nowMs).toISOString();
    const removed = count(
      await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${input.projectId}, ${input.cohortId}, x.profile_id, ${at} from (${leaving}) x`.execute(tx),
    );
    if (removed > 0)
      await sql`delete from cohort_members where cohort_id = ${input.cohortId} and profile_id in (${leaving})`.execute(
        tx,
      );
    const added = count(
      await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${input.projectId}, ${input.cohortId}, x.profile_id, ${at} from (${joining}) x`.execute(tx),
    );
    if (added > 0)
      await sql`insert into cohort_members (cohort_id, profile_id)
        select ${input.cohortId}, x.profile_id from (${joining}) x where true`.execute(tx);

    // A full evaluation knows the exact size (and repairs any drift); a scoped one applies its difference.
    const size = scoped
      ? Number(cohort.rows[0]!.size) + added - removed
      : Number(
          (await sql<{ n: number }>`select count(*) as n from behavioral_desired where eval_id = ${evalId}`.execute(tx))
            .rows[0]!.n,
        );
    await sql`delete from behavioral_desired where eval_id = ${evalId}`.execute(tx);
    if (scoped) await sql`delete from behavioral_scope where eval_id = ${evalId}`.execute(tx);
    return this.settle(tx, input, { added, removed, size }, !scoped);
  }

  /** After the difference is applied: the cohort's size, its size history and how far it was swept. */
  private async settle(
    tx: Tx,
    input: EvaluationInput,
    r: MemberChangeResult & { size: number },
    exactSize: boolean,
  ): Promise<MemberChangeResult & { size: number }> {
    const changed = r.added + r.removed > 0;
    if (exactSize || changed) await sql`update cohorts set size = ${r.size} where id = ${input.cohortId}`.execute(tx);
    if (input.history === 'evaluation' || changed)
      await recordSizePoint(tx, input.cohortId, input.nowMs, r.size, input.history);
    if (input.sweptToMs !== undefined)
      await sql`insert into behavioral_state (cohort_id, swept_to_ms) values (${input.cohortId}, ${input.sweptToMs})
        on conflict (cohort_id) do update set swept_to_ms = excluded.swept_to_ms`.execute(tx);
    return r;
  }

  /**
   * A real-time pass's evaluation of one cohort on PostgreSQL in one statement: the scope travels as one array,
   * the predicate is decided once per scoped profile (a CTE read twice is materialised), and the difference is
   * applied by data-modifying CTEs, which all see the statement's snapshot — the same leaving / joining sets
   * as the staged path below, without writing (and then deleting) the scope and the desired members into the
   * work tables: ~10 statements and two sets of index insertions less per cohort and pass. Per scoped profile,
   * one probe of cohort_members' key says whether it is a member and one subquery whether it should be (both
   * behind OFFSET 0, so neither becomes a join or a hashed subplan): joins against the cohort read all of its
   * members twice per pass (a hash over the cohort's rows), whatever the scope's size, and a hashed EXISTS
   * decided the predicate for every profile of the project.
   */
  private async evaluateProfilesPg(
    tx: Tx,
    input: EvaluationInput,
    scope: Extract<EvaluationScope, { kind: 'profiles' }>,
    sizeBefore: number,
  ): Promise<MemberChangeResult & { size: number }> {
    const predicate = definitionSql(input.definition, this.options('p', input.nowMs, input.retentionDays));
    const at = new Date(input.nowMs).toISOString();
    const joinOnly = scope.joinOnly ?? [];
    // Profiles that can only join are decided only when they are not members yet.
    const joining =
      joinOnly.length === 0
        ? sql``
        : sql` union select y.value from (${this.dialect.intRows(joinOnly)}) y where not exists (
          select 1 from cohort_members m where m.cohort_id = ${input.cohortId} and m.profile_id = y.value)`;
    const r = await sql<{ removed: number; added: number }>`with
      s as (select distinct x.value as profile_id from (${this.dialect.intRows(scope.ids)}) x${joining}),
      v as (select s.profile_id,
          exists (select 1 from cohort_members m
            where m.cohort_id = ${input.cohortId} and m.profile_id = s.profile_id offset 0) as was,
          exists (select 1 from profiles p
            where p.id = s.profile_id and p.project_id = ${input.projectId} and ${predicate} offset 0) as wants
        from s),
      removed as (delete from cohort_members m where m.cohort_id = ${input.cohortId}
          and m.profile_id = any (array(select v.profile_id from v where v.was and not v.wants))
        returning m.profile_id),
      added as (insert into cohort_members (cohort_id, profile_id)
        select ${input.cohortId}, v.profile_id from v where v.wants and not v.was returning profile_id),
      logged as (insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${input.projectId}, ${input.cohortId}, x.profile_id, ${at} from removed x
        union all select ${input.projectId}, ${input.cohortId}, y.profile_id, ${at} from added y)
      select (select count(*) from removed) as removed, (select count(*) from added) as added`.execute(tx);
    const removed = Number(r.rows[0]?.removed ?? 0);
    const added = Number(r.rows[0]?.added ?? 0);
    return this.settle(tx, input, { added, removed, size: sizeBefore + added - removed }, false);
  }

  /** `ids`, and those of `joinOnly` that are not members of the cohort yet (they can only join). */
  private async stageScope(
    tx: Tx,
    evalId: string,
    ids: readonly number[],
    cohortId: string,
    joinOnly: readonly number[],
  ): Promise<void> {
    // The ids as one parameter (an array on PostgreSQL, JSON on SQLite): one short statement per pass.
    const distinct = [...new Set(ids)];
    for (let i = 0; i < distinct.length; i += SCOPE_IDS_PER_STATEMENT) {
      const rows = this.dialect.intRows(distinct.slice(i, i + SCOPE_IDS_PER_STATEMENT));
      await sql`insert into behavioral_scope (eval_id, profile_id)
        select ${evalId}, x.value from (${rows}) x`.execute(tx);
    }
    const taken = new Set(distinct);
    const others = [...new Set(joinOnly)].filter((id) => !taken.has(id));
    for (let i = 0; i < others.length; i += SCOPE_IDS_PER_STATEMENT) {
      const rows = this.dialect.intRows(others.slice(i, i + SCOPE_IDS_PER_STATEMENT));
      await sql`insert into behavioral_scope (eval_id, profile_id)
        select ${evalId}, x.value from (${rows}) x
        where not exists (select 1 from cohort_members m where m.cohort_id = ${cohortId} and m.profile_id = x.value)`.execute(
        tx,
      );
    }
  }

  /** The profiles with an event that left one of the scope's rolling windows (see EvaluationScope). */
  private async stageAged(
    tx: Tx,
    evalId: string,
    projectId: string,
    scope: Extract<EvaluationScope, { kind: 'aged' }>,
  ) {
    const { fromMs, toMs, windows } = scope;
    for (const w of windows) {
      await sql`insert into behavioral_scope (eval_id, profile_id)
        select distinct ${evalId}, e.profile_id from events e
        where e.project_id = ${projectId} and e.event_type = ${w.event}
          and e.time_ms >= ${fromMs - w.windowMs} and e.time_ms < ${toMs - w.windowMs}
        on conflict do nothing`.execute(tx);
    }
  }

  async estimate(projectId: string, definition: Definition, nowMs: number, retentionDays: number): Promise<number> {
    const predicate = definitionSql(definition, {
      ...this.options('p', nowMs, retentionDays),
      wholeProject: projectId,
    });
    const r = await sql<{ n: number }>`select count(*) as n from profiles p
      where p.project_id = ${projectId} and ${predicate}`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  async conditionCounts(profileId: number, definition: Definition, nowMs: number, retentionDays: number) {
    const o: CompileOptions = { ...this.options('p', nowMs, retentionDays), profileId: String(Math.trunc(profileId)) };
    const cells: { gi: number; ci: number; expr: RawBuilder<number> }[] = [];
    definition.all.forEach((g, gi) =>
      g.any.forEach((c, ci) => {
        if (isEvent(c)) cells.push({ gi, ci, expr: eventCountSql(c, o, `x${gi}_${ci}`) });
      }),
    );
    const out = definition.all.map((g) => g.any.map(() => 0));
    if (cells.length === 0) return out;
    const select = sql.join(cells.map((cell, i) => sql`${cell.expr} as ${sql.ref(`c${i}`)}`));
    const row = (await sql<Record<string, number>>`select ${select}`.execute(this.db)).rows[0] ?? {};
    cells.forEach((cell, i) => {
      out[cell.gi]![cell.ci] = Number(row[`c${i}`] ?? 0);
    });
    return out;
  }

  async existingProfiles(ids: readonly number[]): Promise<number> {
    const distinct = [...new Set(ids)];
    let found = 0;
    for (let i = 0; i < distinct.length; i += SCOPE_CHUNK) {
      const chunk = distinct.slice(i, i + SCOPE_CHUNK);
      const r = await sql<{ n: number }>`select count(*) as n from profiles
        where id in (${sql.join(chunk)})`.execute(this.db);
      found += Number(r.rows[0]?.n ?? 0);
    }
    return found;
  }

  async sweptTo(cohortId: string): Promise<number | null> {
    const r = await sql<{ swept_to_ms: number }>`select swept_to_ms from behavioral_state
      where cohort_id = ${cohortId}`.execute(this.db);
    const v = r.rows[0]?.swept_to_ms;
    return v === undefined ? null : Number(v);
  }

  async sizeHistory(cohortId: string, fromMs: number, toMs: number, limit: number) {
    const r = await sql<{ at_ms: number; size: number }>`select at_ms, size from cohort_size_history
      where cohort_id = ${cohortId} and at_ms >= ${fromMs} and at_ms <= ${toMs}
      order by at_ms, id limit ${limit}`.execute(this.db);
    return r.rows.map((row) => ({ atMs: Number(row.at_ms), size: Number(row.size) }));
  }

  async forget(cohortId: string): Promise<void> {
    await sql`delete from cohort_size_history where cohort_id = ${cohortId}`.execute(this.db);
    await sql`delete from behavioral_state where cohort_id = ${cohortId}`.execute(this.db);
  }
}
