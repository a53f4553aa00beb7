// Run counts mean users (docs/design.md, "Run counts"): a batch counts each user once per operation however
// many identifiers it carries, and a user whose identifiers span batches is counted by the first of them.
// Runs keep the users they counted in run_counted_users until they finish, inside each acknowledgement's
// transaction, so a run resumed after a crash counts on exactly where it stopped.
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
  const units = [...new Set(items.map((i) => (i.profileId === null ? `k:${i.key}` : String(i.profileId))))];
  const result = await sql`insert into run_counted_users (run_id, op, unit)
    select ${runId}, ${op}, r.value from (${dialect.textRows(units)}) r where true
    on conflict (run_id, op, unit) do nothing`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
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
