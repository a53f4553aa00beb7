// Acknowledgements of one Braze cohort with several batches in flight, on PostgreSQL (docs/benchmarks.md,
// "Scale-out on PostgreSQL"): how many acknowledgements per second 4 concurrent ackers reach when each
// holds the lease fence with FOR SHARE (now) or with the former UPDATE of the lease row (an exclusive lock held
// to each commit), measured in the same run, alternating, on fresh schemas. Batches of 1,000 new identifiers
// in key order with profile ids unrelated to it, as plans are.
//
//   npx tsx bench/ack-concurrency.ts --database-url postgres://postgres@127.0.0.1:5432/scale_bench [--batches 200] [--rounds 2]
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { postgresDialect } from '../src/adapters/store/dialect.ts';
import { openStore } from '../src/adapters/store/index.ts';
import type { Database } from '../src/adapters/store/schema.ts';
import { seedSendingRun } from '../test/support/sending-run.ts';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    batches: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '4' },
  },
});
const url = values['database-url'] ?? process.env.DATABASE_URL;
if (!url) throw new Error('--database-url (or DATABASE_URL) is required');

const share = postgresDialect.holdFence;
/** The lease check as it was: an UPDATE, whose exclusive row lock made concurrent acknowledgements queue. */
const update = async (tx: Kysely<Database>, id: string, fence: number) => {
  const r = await sql`update braze_cohorts set fence = ${fence} where id = ${id} and fence = ${fence}`.execute(tx);
  return Number(r.numAffectedRows ?? 0) > 0;
};

async function round(variant: 'share' | 'update', batches: number, concurrency: number) {
  (postgresDialect as { holdFence: typeof share }).holdFence = variant === 'share' ? share : update;
  const schema = `ackc_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const store = await openStore({ kind: 'postgres', url: url!, schema });
  try {
    const db = store.raw.db;
    const now = new Date().toISOString();
    await seedSendingRun(db, now);
    await sql`insert into run_batches (run_id, seq, payload, size, status)
      select 'run', i, '{}', 1000, 'pending' from generate_series(0, ${batches}::int) i`.execute(db);
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let b = next++; b < batches; b = next++) {
          const add = Array.from({ length: 1000 }, (_, i) => ({
            key: `u:usr_${String(b * 1000 + i).padStart(10, '0')}`,
            profileId: ((b * 1000 + i) * 7919) % 10_000_019,
          }));
          const held = await store.planning.ackBatch({
            ...{ runId: 'run', brazeCohortId: 'bc', seq: b, fence: 1, now, requests: 1, retries: 0 },
            batch: { add, remove: [] },
          });
          if (!held) throw new Error('the acknowledgement lost its fence');
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const added = Number((await sql<{ a: number }>`select added as a from runs`.execute(db)).rows[0]!.a);
    if (added !== batches * 1000) throw new Error(`counted ${added} users, expected ${batches * 1000}`);
    return {
      variant,
      concurrency,
      acksPerSecond: Math.round(batches / seconds),
      nodeCpuMsPerAck: Math.round(((cpu.user + cpu.system) / 1000 / batches) * 10) / 10,
      load: Math.round(loadavg()[0]! * 10) / 10,
    };
  } finally {
    await store.close();
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
}

const rows = [];
for (let r = 0; r < Number(values.rounds); r++)
  for (const variant of ['update', 'share'] as const) {
    const row = await round(variant, Number(values.batches), Number(values.concurrency));
    process.stderr.write(`ack-concurrency ${JSON.stringify(row)}\n`);
    rows.push(row);
  }
console.log(`RESULT ${JSON.stringify(rows)}`);
