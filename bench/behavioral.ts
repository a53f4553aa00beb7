// Behavioral cohorts (docs/benchmarks.md "Behavioral cohorts"): full evaluation of U users / E events beside
// the raw SQL scans of the same events table, in the same run, each size in a child process of its own for
// its peak RSS.
//
//   npx tsx bench/behavioral.ts                                   SQLite, 100k/1M and 1M/10M
//   npx tsx bench/behavioral.ts --sizes 1000000:10000000
//   npx tsx bench/behavioral.ts --engine postgres --database-url postgres://postgres@127.0.0.1:5432/test
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StoreLocation } from '../src/adapters/store/index.ts';
import { BEHAV_PROJECT, seedBehavioral } from './behavioral-seed.ts';
import { throwawayStore } from './throwaway-store.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000:1000000,1000000:10000000' },
    engine: { type: 'string', default: 'sqlite' },
    'database-url': { type: 'string' },
  },
});
const engine = values.engine as 'sqlite' | 'postgres';
const CHILD = fileURLToPath(new URL('./behavioral-eval-child.ts', import.meta.url));
const COHORT = 'coh_behavbench000000';

interface Phase<T> {
  value: T;
  seconds: number;
  peakRssMb: number;
}
interface ChildResult {
  scan: Phase<number>;
  grouped: Phase<number>;
  first: Phase<{ added: number; removed: number; size: number }>;
  second: Phase<{ added: number; removed: number; size: number }>;
  estimate: Phase<number>;
}

async function insertCohort(location: StoreLocation, nowMs: number) {
  const now = new Date(nowMs).toISOString();
  const q = `insert into cohorts (id, project_id, name, type, definition, size, created_at, updated_at) values ($1, $2, 'Bench', 'behavioral', '{}', 0, $3, $3)`;
  if (location.kind === 'sqlite') {
    const db = new Database(location.file);
    db.prepare(q.replace(/\$\d/g, '?')).run(COHORT, BEHAV_PROJECT, now, now);
    db.close();
  } else {
    const c = new pg.Client({ connectionString: location.url, options: `-c search_path=${location.schema}` });
    await c.connect();
    await c.query(q, [COHORT, BEHAV_PROJECT, now]);
    await c.end();
  }
}

const rows: string[] = [];
for (const pair of values.sizes.split(',')) {
  const [users, events] = pair.split(':').map((x) => Number(x.replace(/_/g, ''))) as [number, number];
  const store = await throwawayStore(engine, values['database-url'] ?? process.env.DATABASE_URL, { prefix: 'behav' });
  try {
    const nowMs = Date.now();
    const seeded = await seedBehavioral(store.location, users, events, nowMs);
    await insertCohort(store.location, nowMs);
    console.log(
      `${engine}: seeded ${users.toLocaleString()} users / ${events.toLocaleString()} events in ${seeded.toFixed(1)} s`,
    );
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', CHILD, JSON.stringify(store.location), String(nowMs), COHORT],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    if (r.status !== 0) throw new Error(`child failed with status ${r.status}: ${r.stdout}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
    const f = (p: Phase<unknown>) => `${p.seconds.toFixed(2)} s / ${Math.round(p.peakRssMb)} MB`;
    rows.push(
      `| ${engine} | ${users.toLocaleString()} | ${events.toLocaleString()} | ${f(res.scan)} | ${f(res.grouped)} | ${f(res.first)} (+${res.first.value.added.toLocaleString()}) | ${f(res.second)} | ${f(res.estimate)} | ${res.second.value.size.toLocaleString()} |`,
    );
    console.log(rows.at(-1));
  } finally {
    await store.drop();
  }
}
console.log(
  '\n| engine | users | events | baseline: count(*) of events | baseline: Purchase ≥ 2 in 30 d, group by | full evaluation, first (joins) | full evaluation, again (no change) | estimate | members |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
