// The mapping rules of src/domain/mapping.ts, written as SQL so a whole cohort resolves inside the store
// without passing through JavaScript. test/integration/store-mapping.test.ts holds both to agreement.
import { type RawBuilder, sql } from 'kysely';
import { aliasKeyPrefix } from '../../domain/identifiers.ts';
import { type Mapping, mappingChain } from '../../domain/mapping.ts';
import type { StoreDialect } from './dialect.ts';

/** The alias_name a member gets, as SQL over `p` (profiles), mirroring aliasValue(). */
export function aliasValueSql(dialect: StoreDialect, property: string | undefined): RawBuilder<string | null> {
  if (!property || property === 'user_id') return sql`p.user_id`;
  // Numbers must read as JavaScript's String(n), which is exactly the literal JSON.stringify wrote: jsonText
  // returns the number's JSON text, never a conversion. An empty string is no alias.
  return sql`nullif(${dialect.jsonText(sql`p.properties`, property)}, '')`;
}

/** Whether one mapping step yields any identifier for profile `p`. */
export function yieldsSql(dialect: StoreDialect, step: Mapping): RawBuilder<boolean> {
  switch (step.type) {
    case 'user_id':
      return sql`(p.user_id is not null)`;
    case 'device_id':
      return sql`(p.user_id is not null or exists (select 1 from profile_devices x where x.profile_id = p.id))`;
    case 'user_alias':
      return sql`(${aliasValueSql(dialect, step.aliasProperty)} is not null)`;
  }
}

/** Members for which step `index` of the chain is the first that yields. */
export function chosenStepSql(dialect: StoreDialect, chain: readonly Mapping[], index: number): RawBuilder<boolean> {
  const earlier = chain.slice(0, index).map((s) => sql`not ${yieldsSql(dialect, s)}`);
  return sql.join([yieldsSql(dialect, chain[index]!), ...earlier], sql` and `);
}

export function reachedSql(dialect: StoreDialect, mapping: Mapping): RawBuilder<boolean> {
  return sql`(${sql.join(
    mappingChain(mapping).map((s) => yieldsSql(dialect, s)),
    sql` or `,
  )})`;
}

/** SELECT statements producing (ident_key, profile_id) for the members a step applies to. */
export function identifierSelects(
  dialect: StoreDialect,
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
        sql`select cast(${prefix} as text) || ${aliasValueSql(dialect, step.aliasProperty)} as ident_key, p.id as profile_id ${from}
            where ${memberFilter} and ${chosen}`,
      ];
    }
  }
}
