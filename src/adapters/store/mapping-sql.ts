// The mapping rules of src/domain/mapping.ts, written as SQL so a whole cohort resolves inside the store
// without passing through JavaScript. test/integration/store-mapping.test.ts holds both to agreement.
import { type RawBuilder, sql } from 'kysely';
import { aliasKeyPrefix } from '../../domain/identifiers.ts';
import { type Mapping, mappingChain } from '../../domain/mapping.ts';
import type { Engine } from './db.ts';

/** The alias_name a member gets, as SQL over `p` (profiles), mirroring aliasValue(). */
export function aliasValueSql(engine: Engine, property: string | undefined): RawBuilder<string | null> {
  if (!property || property === 'user_id') return sql`p.user_id`;
  // Numbers must read as JavaScript's String(n), which is exactly the literal JSON.stringify wrote: so take
  // the number's JSON text, never a conversion (jsonb turns 5e-7 into 0.0000005, SQLite's cast 1e+21 into
  // 1.0e+21). PostgreSQL's json (unlike jsonb) keeps number literals as written; SQLite's -> returns JSON text.
  if (engine === 'postgres') {
    return sql`(case json_typeof(p.properties::json -> ${property}::text)
      when 'string' then nullif(p.properties::json ->> ${property}::text, '')
      when 'number' then p.properties::json ->> ${property}::text
      when 'boolean' then p.properties::json ->> ${property}::text end)`;
  }
  const path = `$."${property.replace(/"/g, '\\"')}"`;
  return sql`(case json_type(p.properties, ${path})
      when 'text' then nullif(json_extract(p.properties, ${path}), '')
      when 'integer' then p.properties -> ${path}
      when 'real' then p.properties -> ${path}
      when 'true' then 'true' when 'false' then 'false' end)`;
}

/** Whether one mapping step yields any identifier for profile `p`. */
export function yieldsSql(engine: Engine, step: Mapping): RawBuilder<boolean> {
  switch (step.type) {
    case 'user_id':
      return sql`(p.user_id is not null)`;
    case 'device_id':
      return sql`(p.user_id is not null or exists (select 1 from profile_devices x where x.profile_id = p.id))`;
    case 'user_alias':
      return sql`(${aliasValueSql(engine, step.aliasProperty)} is not null)`;
  }
}

/** Members for which step `index` of the chain is the first that yields. */
export function chosenStepSql(engine: Engine, chain: readonly Mapping[], index: number): RawBuilder<boolean> {
  const earlier = chain.slice(0, index).map((s) => sql`not ${yieldsSql(engine, s)}`);
  return sql.join([yieldsSql(engine, chain[index]!), ...earlier], sql` and `);
}

export function reachedSql(engine: Engine, mapping: Mapping): RawBuilder<boolean> {
  return sql`(${sql.join(
    mappingChain(mapping).map((s) => yieldsSql(engine, s)),
    sql` or `,
  )})`;
}

/** SELECT statements producing (ident_key, profile_id) for the members a step applies to. */
export function identifierSelects(
  engine: Engine,
  step: Mapping,
  memberFilter: RawBuilder<unknown>,
  chosen: RawBuilder<boolean>,
): RawBuilder<unknown>[] {
  const from = sql`from cohort_members m join profiles p on p.id = m.profile_id`;
  switch (step.type) {
    case 'user_id':
      return [
        sql`select 'e:' || p.user_id as ident_key, p.id as profile_id ${from} where ${memberFilter} and ${chosen}`,
      ];
    case 'device_id':
      return [
        sql`select 'd:' || pd.device_id as ident_key, p.id as profile_id ${from} join profile_devices pd on pd.profile_id = p.id
            where ${memberFilter} and ${chosen}`,
        sql`select 'e:' || p.user_id as ident_key, p.id as profile_id ${from} where ${memberFilter} and ${chosen} and p.user_id is not null`,
      ];
    case 'user_alias': {
      const prefix = aliasKeyPrefix(step.aliasLabel ?? '');
      return [
        sql`select cast(${prefix} as text) || ${aliasValueSql(engine, step.aliasProperty)} as ident_key, p.id as profile_id ${from}
            where ${memberFilter} and ${chosen}`,
      ];
    }
  }
}
