// Compiles a behavioral definition (src/domain/behavioral.ts) into one SQL predicate over a profile, for
// either engine. Full and incremental evaluation use the same predicate — only the set of profiles it is
// applied to differs — so they cannot disagree about what a condition means. The meaning of each property
// operator is the domain's propertyPasses: JSON scalars compare only with scalars of the same type.
//
// Engine differences live here and nowhere else: SQLite reads JSON with json_type/json_extract and a
// `$."name"` path; PostgreSQL with jsonb's -> / ->> and jsonb_typeof, and compares text under the "C"
// collation so string order is byte order on both (SQLite's default BINARY collation is byte order too).
import { type RawBuilder, sql } from 'kysely';
import {
  type Condition,
  type Definition,
  type EventCondition,
  isEvent,
  isInCohort,
  type PropertyTest,
  type Scalar,
  windowStartMs,
} from '../../domain/behavioral.ts';
import type { Engine } from './db.ts';

type Bool = RawBuilder<unknown>;

export interface CompileOptions {
  readonly engine: Engine;
  /** SQL expression of the profile id the predicate is about (e.g. `p.id`). */
  readonly profileId: string;
  /** SQL expression of that profile's properties JSON text (e.g. `p.properties`). */
  readonly properties: string;
  readonly nowMs: number;
  readonly retentionDays: number;
}

/** Never NULL: SQL's three-valued logic would otherwise turn `not (missing = x)` into "no row". */
const definite = (expr: Bool): Bool => sql`(case when ${expr} then 1 else 0 end = 1)`;

function sqliteTest(column: string, key: string, t: PropertyTest): Bool {
  const path = `$."${key}"`;
  const type = sql`json_type(${sql.raw(column)}, ${path})`;
  const value = sql`json_extract(${sql.raw(column)}, ${path})`;
  const typed = (v: Scalar): Bool =>
    typeof v === 'string' ? sql`${type} = 'text'` : typeof v === 'number' ? sql`${type} in ('integer', 'real')` : sql`1 = 1`;
  const eq = (v: Scalar): Bool =>
    typeof v === 'boolean' ? sql`${type} = ${v ? 'true' : 'false'}` : sql`(${typed(v)} and ${value} = ${v})`;
  switch (t.op) {
    case 'set':
      return sql`(${type} is not null and ${type} <> 'null')`;
    case 'not_set':
      return sql`not (${definite(sql`${type} is not null and ${type} <> 'null'`)})`;
    case 'eq':
      return definite(eq(t.value as Scalar));
    case 'neq':
      return sql`not ${definite(eq(t.value as Scalar))}`;
    case 'in':
      return definite(sql.join((t.value as Scalar[]).map(eq), sql` or `));
    case 'contains':
      return definite(sql`${type} = 'text' and instr(${value}, ${t.value as string}) > 0`);
    default: {
      const v = t.value as Scalar;
      const cmp = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[t.op];
      return definite(sql`${typed(v)} and ${value} ${sql.raw(cmp)} ${v}`);
    }
  }
}

function postgresTest(column: string, key: string, t: PropertyTest): Bool {
  const json = sql`(${sql.raw(column)}::jsonb -> ${key}::text)`;
  const type = sql`jsonb_typeof(${json})`;
  const text = sql`(${sql.raw(column)}::jsonb ->> ${key}::text)`;
  const asJson = (v: Scalar) => sql`cast(${JSON.stringify(v)}::text as jsonb)`;
  const eq = (v: Scalar): Bool =>
    typeof v === 'string'
      ? sql`(${type} = 'string' and ${text} = ${v}::text)`
      : sql`(${type} = ${typeof v} and ${json} = ${asJson(v)})`;
  switch (t.op) {
    case 'set':
      return definite(sql`${json} is not null and ${type} <> 'null'`);
    case 'not_set':
      return sql`not ${definite(sql`${json} is not null and ${type} <> 'null'`)}`;
    case 'eq':
      return definite(eq(t.value as Scalar));
    case 'neq':
      return sql`not ${definite(eq(t.value as Scalar))}`;
    case 'in':
      return definite(sql.join((t.value as Scalar[]).map(eq), sql` or `));
    case 'contains':
      return definite(sql`${type} = 'string' and strpos(${text}, ${t.value as string}::text) > 0`);
    default: {
      const v = t.value as Scalar;
      const cmp = sql.raw({ gt: '>', gte: '>=', lt: '<', lte: '<=' }[t.op]);
      return typeof v === 'string'
        ? definite(sql`${type} = 'string' and (${text} collate "C") ${cmp} (${v}::text collate "C")`)
        : definite(sql`${type} = 'number' and ${json} ${cmp} ${asJson(v)}`);
    }
  }
}

/** A property test on a JSON-object column, as a non-NULL boolean. */
export function propertyTestSql(engine: Engine, column: string, key: string, t: PropertyTest): Bool {
  return engine === 'postgres' ? postgresTest(column, key, t) : sqliteTest(column, key, t);
}

/** The matching events of one condition for the profile `profileId` (an SQL expression), as a WHERE body. */
function eventsWhere(c: EventCondition, alias: string, o: CompileOptions): Bool {
  const filters = c.where.map((f) => propertyTestSql(o.engine, `${alias}.event_properties`, f.property, f));
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
  if (isEvent(c)) {
    // "At least once" is an existence test: the index on (profile_id, event_type, time_ms) answers it at the
    // first matching row instead of counting them all.
    if ((c.count.op === 'gte' && c.count.value === 1) || (c.count.op === 'gt' && c.count.value === 0))
      return sql`exists (select 1 from events ${sql.raw(alias)} where ${eventsWhere(c, alias, o)})`;
    const cmp = sql.raw({ eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.count.op]);
    return sql`(${eventCountSql(c, o, alias)} ${cmp} ${c.count.value})`;
  }
  return propertyTestSql(o.engine, o.properties, c.userProperty, c);
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
