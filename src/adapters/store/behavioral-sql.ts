// Compiles a behavioral definition (src/domain/behavioral.ts) into one SQL predicate over a profile, for
// either engine. Full and incremental evaluation use the same predicate — only the set of profiles it is
// applied to differs — so they cannot disagree about what a condition means. The meaning of each property
// operator is the domain's propertyPasses: JSON scalars compare only with scalars of the same type, strings
// in byte order. What differs between the engines (reading JSON, byte-order text) is asked of the dialect.
import { type RawBuilder, sql } from 'kysely';
import {
  type Condition,
  countPasses,
  type Definition,
  type EventCondition,
  isEvent,
  isInCohort,
  type PropertyTest,
  type Scalar,
  windowStartMs,
} from '../../domain/behavioral.ts';
import type { StoreDialect } from './dialect.ts';

type Bool = RawBuilder<unknown>;

export interface CompileOptions {
  readonly dialect: StoreDialect;
  /** SQL expression of the profile id the predicate is about (e.g. `p.id`). */
  readonly profileId: string;
  /** SQL expression of that profile's properties JSON text (e.g. `p.properties`). */
  readonly properties: string;
  readonly nowMs: number;
  readonly retentionDays: number;
  /**
   * Set for an evaluation of every profile of this project: event conditions become one grouped pass over
   * the events of their type (a set the engine hashes) instead of an index probe per profile.
   */
  readonly wholeProject?: string;
}

/** Never NULL: SQL's three-valued logic would otherwise turn `not (missing = x)` into "no row". */
const definite = (expr: Bool): Bool => sql`(case when ${expr} then 1 else 0 end = 1)`;

const ORDER_OPS = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** A property test on a JSON-object column, as a non-NULL boolean. */
export function propertyTestSql(d: StoreDialect, column: string, key: string, t: PropertyTest): Bool {
  const json = sql.raw(column);
  const type = d.jsonType(json, key);
  const text = d.jsonText(json, key);
  const num = d.jsonNumber(json, key);
  const eq = (v: Scalar): Bool =>
    typeof v === 'string'
      ? // `->>` first: a miss (most events of the type) costs one parse of the JSON, not three; a hit is a
        // string only if the type says so (`->>` also reads 1 or true as text).
        sql`(${d.jsonArrow(json, key)} = ${v} and ${type} = 'string')`
      : typeof v === 'number'
        ? sql`(${type} = 'number' and ${num} = ${v})`
        : sql`(${type} = 'boolean' and ${text} = ${v ? 'true' : 'false'})`;
  const present = sql`${type} is not null and ${type} <> 'null'`;
  switch (t.op) {
    case 'set':
      return definite(present);
    case 'not_set':
      return sql`not ${definite(present)}`;
    case 'eq':
      return definite(eq(t.value as Scalar));
    case 'neq':
      return sql`not ${definite(eq(t.value as Scalar))}`;
    case 'in':
      return definite(sql.join((t.value as Scalar[]).map(eq), sql` or `));
    case 'contains':
      return definite(sql`${type} = 'string' and ${d.contains(text, t.value as string)}`);
    default: {
      const v = t.value as Scalar;
      const cmp = sql.raw(ORDER_OPS[t.op]);
      return typeof v === 'string'
        ? definite(sql`${type} = 'string' and ${d.byteOrder(text)} ${cmp} ${d.byteOrder(sql`${v}`)}`)
        : definite(sql`${type} = 'number' and ${num} ${cmp} ${v}`);
    }
  }
}

/** The matching events of one condition for the profile `profileId` (an SQL expression), as a WHERE body. */
function eventsWhere(c: EventCondition, alias: string, o: CompileOptions): Bool {
  const filters = c.where.map((f) => propertyTestSql(o.dialect, `${alias}.event_properties`, f.property, f));
  return sql.join(
    [
      sql`${sql.ref(`${alias}.profile_id`)} = ${sql.raw(o.profileId)}`,
      sql`${sql.ref(`${alias}.event_type`)} = ${c.event}`,
      sql`${sql.ref(`${alias}.time_ms`)} >= ${windowStartMs(c, o.nowMs, o.retentionDays)}`,
      ...filters,
    ],
    sql` and `,
  );
}

/** The number of matching events of one condition for the profile (explain). */
export function eventCountSql(c: EventCondition, o: CompileOptions, alias = 'ec'): RawBuilder<number> {
  return sql<number>`(select count(*) from events ${sql.raw(alias)} where ${eventsWhere(c, alias, o)})`;
}

function conditionSql(c: Condition, alias: string, o: CompileOptions): Bool {
  if (isInCohort(c)) {
    return sql`exists (select 1 from cohort_members ${sql.raw(alias)} where ${sql.ref(`${alias}.cohort_id`)} = ${c.inCohort} and ${sql.ref(`${alias}.profile_id`)} = ${sql.raw(o.profileId)})`;
  }
  if (isEvent(c) && o.wholeProject !== undefined) {
    const cmp = sql.raw({ eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.count.op]);
    const filters = c.where.map((f) => propertyTestSql(o.dialect, `${alias}.event_properties`, f.property, f));
    const matching = sql.join(
      [
        sql`${sql.ref(`${alias}.project_id`)} = ${o.wholeProject}`,
        sql`${sql.ref(`${alias}.event_type`)} = ${c.event}`,
        sql`${sql.ref(`${alias}.time_ms`)} >= ${windowStartMs(c, o.nowMs, o.retentionDays)}`,
        ...filters,
      ],
      sql` and `,
    );
    const grouped = (having: Bool) =>
      sql`select ${sql.ref(`${alias}.profile_id`)} from events ${sql.raw(alias)} where ${matching}
        group by ${sql.ref(`${alias}.profile_id`)} having ${having}`;
    // A test that 0 passes holds for users without any such event: those are "not among the failing ones".
    return countPasses(0, c.count)
      ? sql`${sql.raw(o.profileId)} not in (${grouped(sql`not (count(*) ${cmp} ${c.count.value})`)})`
      : sql`${sql.raw(o.profileId)} in (${grouped(sql`count(*) ${cmp} ${c.count.value}`)})`;
  }
  if (isEvent(c)) {
    // The count stops at `cap` matching rows: for `gte v` and `lt v` the first v decide (both read c >= v),
    // for the other ops v + 1 do; beyond the cap every comparison with the value reads the same, so the capped
    // count decides exactly what the full one would, without reading (and parsing the properties of) every
    // event of the type a busy profile has. Newest first (the index's time_ms backwards): a real-time pass
    // re-decides a profile because of new events its conditions can count, so the rows that end the scan come
    // first — "at least once" is then decided by the newest event's row, where an oldest-first scan (or the
    // semi join EXISTS became, which ignores any order) read every older event of the type before it.
    const cmp = sql.raw({ eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.count.op]);
    const value = Math.max(0, Math.floor(c.count.value));
    const cap = c.count.op === 'gte' || c.count.op === 'lt' ? Math.max(1, value) : value + 1;
    return sql`((select count(*) from (select 1 from events ${sql.raw(alias)} where ${eventsWhere(c, alias, o)}
      order by ${sql.ref(`${alias}.time_ms`)} desc limit ${sql.lit(cap)}) ${sql.raw(`${alias}_capped`)}) ${cmp} ${c.count.value})`;
  }
  return propertyTestSql(o.dialect, o.properties, c.userProperty, c);
}

/** The whole definition as one predicate: AND of groups, each an OR of conditions, negated groups NOT'ed. */
export function definitionSql(def: Definition, o: CompileOptions): Bool {
  const groups = def.all.map((g, gi) => {
    const any = sql.join(
      g.any.map((c, ci) => conditionSql(c, `b${gi}_${ci}`, o)),
      sql` or `,
    );
    return g.not ? sql`not (${any})` : sql`(${any})`;
  });
  return sql`(${sql.join(groups, sql` and `)})`;
}
