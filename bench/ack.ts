// The acknowledgement bench: the store transaction that records one delivered batch (planning.ackBatch) — the
// step that capped SQLite's delivery — timed on its own, with and without the former random-order index
// braze_identifiers (braze_cohort_id, profile_id), in the same run: `indexed` re-creates that index on an
// otherwise identical store, as the schema was before migration 0050 (docs/embedded-store.md).
// Each store holds `acked` identifiers already; then `batches` acknowledgements of 1,000 new identifiers each,
// key-ordered as plan pages are, with profile ids at random as real ones are.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../src/adapters/store/index.ts';

export interface AckResult {
  readonly variant: 'now' | 'indexed';
  readonly acked: number;
  readonly batches: number;
  readonly meanMs: number;
  readonly p95Ms: number;
  /** Acknowledgements per second this alone allows (Braze's cap needs 69.4). */
  readonly perSecond: number;
}

export async function benchAck(variant: 'now' | 'indexed', acked: number, batches: number): Promise<AckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-bench-ack-'));
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'store.db') });
  try {
    const db = store.raw.db;
    const now = new Date().toISOString();
    await sql`insert into braze_cohorts (id, project_id, workspace_key, cohort_id, created_at, fence, dirty, change_seq)
      values ('bc_ack', 'prj_ack', 'ws', 'coh_ack', ${now}, 1, 0, 0)`.execute(db);
    await sql`insert into runs (id, project_id, sync_id, braze_cohort_id, status, trigger, phase, queued_at)
      values ('run_ack', 'prj_ack', 'syn_ack', 'bc_ack', 'running', 'manual', 'sending', ${now})`.execute(db);
    // Keys 'e:k' + even numbers are acknowledged already; the batches add the odd ones, in key order.
    const total = acked + batches * 1000;
    await sql`insert into braze_identifiers (braze_cohort_id, ident_key, profile_id, run_id, acked_at)
      with recursive s(i) as (select 0 union all select i + 1 from s where i < ${acked - 1})
      select 'bc_ack', printf('e:k%012d', i * 2), abs(random() % ${total * 4}), 'run_seed', ${now} from s`.execute(db);
    await sql`insert into braze_identifier_profiles (braze_cohort_id, profile_id, ident_key)
      select braze_cohort_id, profile_id, ident_key from braze_identifiers order by 1, 2, 3`.execute(db);
    if (variant === 'indexed')
      await sql`create index braze_identifiers_profile on braze_identifiers (braze_cohort_id, profile_id)`.execute(db);
    await sql`pragma wal_checkpoint(truncate)`.execute(db);
    const times: number[] = [];
    const step = Math.max(1, Math.floor(acked / (batches * 1000)));
    for (let b = 0; b < batches; b++) {
      const add = Array.from({ length: 1000 }, (_, i) => ({
        key: `e:k${String((b * 1000 + i) * 2 * step + 1).padStart(12, '0')}`,
        profileId: randomBytes(4).readUInt32BE() % (total * 4),
      }));
      await sql`insert into run_batches (run_id, seq, payload, size, status) values ('run_ack', ${b}, '{}', 1000, 'pending')`.execute(
        db,
      );
      const t = performance.now();
      const ok = await store.planning.ackBatch({
        runId: 'run_ack',
        brazeCohortId: 'bc_ack',
        seq: b,
        fence: 1,
        batch: { add, remove: [] },
        now,
        requests: 1,
        retries: 0,
      });
      times.push(performance.now() - t);
      if (!ok) throw new Error('the acknowledgement lost its fence');
    }
    const sorted = [...times].sort((x, y) => x - y);
    const meanMs = times.reduce((s, x) => s + x, 0) / times.length;
    return {
      variant,
      acked,
      batches,
      meanMs,
      p95Ms: sorted[Math.floor(sorted.length * 0.95)] ?? 0,
      perSecond: 1000 / meanMs,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
