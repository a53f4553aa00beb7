// A Braze cohort 'bc' whose lease carries fence 1 and a run 'run' of it in its sending phase, written directly:
// what acknowledgement tests and benches start from (they add the run's batches themselves).
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/adapters/store/schema.ts';

export async function seedSendingRun(db: Kysely<Database>, now = new Date().toISOString()): Promise<void> {
  await sql`insert into braze_cohorts (id, project_id, workspace_key, cohort_id, created_at, fence, dirty, change_seq)
    values ('bc', 'prj', 'ws', 'coh', ${now}, 1, 0, 0)`.execute(db);
  await sql`insert into runs (id, project_id, sync_id, braze_cohort_id, status, trigger, phase, queued_at)
    values ('run', 'prj', 'syn', 'bc', 'running', 'manual', 'sending', ${now})`.execute(db);
}
