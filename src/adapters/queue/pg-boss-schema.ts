// Where pg-boss keeps its tables and which queue runs are dispatched on. Shared by the migration that creates
// them (adapters/store/migrations.ts) and the queue adapter that uses them, so the two never disagree.
import { createRequire } from 'node:module';

/** pg-boss, loaded when first needed: migrations on the embedded store never are (a start is faster without it). */
const pgBoss = () => createRequire(import.meta.url)('pg-boss') as typeof import('pg-boss');

/** The one queue: a job means "work on Braze cohort X" (data: {brazeCohortId}), keyed by that id. */
export const RUN_QUEUE = 'cohort-sync-runs';

/**
 * How long pg-boss lets one job run before failing it. Correctness does not depend on it (our lease does);
 * it only bounds how long a job row stays "active" after its worker vanished. pg-boss caps it below 24 h.
 */
export const RUN_JOB_EXPIRE_SECONDS = 12 * 3600;

/**
 * pg-boss's schema for a store living in `storeSchema`: `pgboss` beside `public` (pg-boss's own default), else
 * `<schema>_pgboss`, so several stores in one database (tests, staging beside production) never share jobs.
 */
export function pgBossSchemaFor(storeSchema: string): string {
  const name = storeSchema === 'public' ? 'pgboss' : `${storeSchema}_pgboss`;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,49}$/.test(name))
    throw new RangeError(`cannot derive a pg-boss schema name from store schema ${JSON.stringify(storeSchema)}`);
  return name;
}

/**
 * pg-boss's own construction script for its current schema version. It wraps itself in BEGIN/COMMIT; our
 * migrator already runs each migration in one transaction under its advisory lock, so those two are dropped.
 */
export function pgBossSchemaSql(storeSchema: string): string {
  return pgBoss()
    .getConstructionPlans(pgBossSchemaFor(storeSchema))
    .replace(/^\s*BEGIN;\s*$/m, '')
    .replace(/^\s*COMMIT;\s*$/m, '');
}

/**
 * The run queue, with pg-boss's `short` policy: at most one *queued* job per key (more dispatches of a Braze
 * cohort that is already waiting are dropped by pg-boss), while a job of that key may be active meanwhile —
 * keyed `singleton`/`stately` queues would block other keys behind one running job. No pg-boss retries:
 * a failed attempt leaves its run in the store, and the sweeper re-dispatches it.
 */
export function pgBossQueueSql(storeSchema: string): string {
  const options = {
    policy: 'short',
    retryLimit: 0,
    retryDelay: 0,
    retryBackoff: false,
    expireInSeconds: RUN_JOB_EXPIRE_SECONDS,
    retentionMinutes: 24 * 60,
  };
  return `select ${pgBossSchemaFor(storeSchema)}.create_queue('${RUN_QUEUE}', '${JSON.stringify(options)}'::json)`;
}
