// In-process ingestion cost of the store alone (no HTTP, no behavioral pass): `concurrency` callers store
// SDK-sized batches of returning users through store.events.ingest for `seconds`, and the bench prints the
// Node process's CPU and (PostgreSQL, same machine) the backends' CPU per event. For A/B work on the write
// path (docs/benchmarks.md "Ingestion").
//
//   npx tsx bench/ingest-store.ts --engine postgres --database-url URL [--seconds 10] [--batch 200]
//                                 [--concurrency 4] [--pool 5000] [--ingest-thread yes|no]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openStore } from '../src/adapters/store/index.ts';
import { DEDUPE_WINDOW_MS } from '../src/app/ingest.ts';
import { validateEvents } from '../src/domain/amplitude-event.ts';
import { sdkEvent } from './sdk-event.ts';
import { throwawayStore } from './throwaway-store.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    'database-url': { type: 'string' },
    seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    pool: { type: 'string', default: '5000' },
    'ingest-thread': { type: 'string', default: 'no' },
  },
});
const engine = values.engine === 'sqlite' ? 'sqlite' : 'postgres';
const batch = Number(values.batch);
const pool = Number(values.pool);
const fresh = await throwawayStore(engine, values['database-url'] ?? process.env.DATABASE_URL, { prefix: 'bench-is' });
// --ingest-thread yes: SQLite's writes on a worker thread (src/adapters/store/ingest-writer.ts).
const threaded = values['ingest-thread'] === 'yes' && fresh.location.kind === 'sqlite';
const store = await openStore(threaded ? { ...fresh.location, ingestThread: true } : fresh.location);
const db = store.raw.db;
const event = sdkEvent;
const projectId = 'prj_bench';
const ingest = (raw: unknown[]) => {
  const receivedMs = Date.now();
  const { valid } = validateEvents(raw, { minIdLength: 5, receivedMs });
  return store.events.ingest(projectId, valid, {
    receivedMs,
    now: new Date(receivedMs).toISOString(),
    dedupeSinceMs: receivedMs - DEDUPE_WINDOW_MS,
  });
};

async function backendCpu(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (engine !== 'postgres') return out;
  const rows = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(
    db,
  );
  for (const { pid } of rows.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {}
  }
  return out;
}

try {
  for (let u = 0; u < pool; u += batch) {
    const now = Date.now();
    await ingest(Array.from({ length: Math.min(batch, pool - u) }, (_, i) => event(u + i, now, 'Signed Up')));
  }
  // Open every pooled connection before the first sample, so each backend is counted from the start.
  if (engine === 'postgres')
    await Promise.all(Array.from({ length: Number(values.concurrency) }, () => sql`select pg_sleep(0.05)`.execute(db)));
  const b0 = await backendCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + Number(values.seconds) * 1000;
  let stored = 0;
  let requests = 0;
  await Promise.all(
    Array.from({ length: Number(values.concurrency) }, async () => {
      while (performance.now() < until) {
        const now = Date.now();
        const r = await ingest(Array.from({ length: batch }, () => event(Math.floor(Math.random() * pool), now)));
        stored += r.stored;
        requests += 1;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const b1 = await backendCpu();
  const backendS = [...b1].reduce((s, [pid, t]) => s + t - (b0.get(pid) ?? 0), 0);
  const per = (s: number) => ((s * 1e6) / stored).toFixed(1);
  console.log(
    `${engine}: ${stored} events in ${requests} requests, ${(stored / elapsed).toFixed(0)} events/s; node ${per((c.user + c.system) / 1e6)} µs/event, backends ${per(backendS)} µs/event; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await store.close();
  await fresh.drop();
}
