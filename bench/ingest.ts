// Sustained ingestion through POST /2/httpapi (docs/benchmarks.md "Ingestion"): an event source in its own
// process sends SDK-sized batches back to back from a few concurrent senders; the server is the service's
// ingestion as `cohort-sync serve` wires it (routes, the behavioral listener and sweeper), with ten
// behavioral cohorts defined that every batch re-evaluates for the profiles it touches. Baseline, same
// run, same source: a bare Fastify route that parses the JSON and answers Amplitude's 200 — the ceiling of
// HTTP and JSON alone on this machine.
//
//   npx tsx bench/ingest.ts [--engine sqlite|postgres] [--database-url URL] [--seconds 20] [--batch 200]
//                           [--concurrency 4] [--pool 5000] [--cohorts 10] [--baseline yes|no]
//                           [--ingest-thread yes|no]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { createCohort } from '../src/app/cohort-admin.ts';
import { createProject } from '../src/app/projects.ts';
import { compose } from '../src/entry/compose.ts';
import { buildHttpApp } from '../src/entry/http/app.ts';
import { ingestRoutes } from '../src/entry/http/routes/ingest.ts';
import { currentRssMb, peakRssMb } from './rss.ts';
import { throwawayStore } from './throwaway-store.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    'database-url': { type: 'string' },
    seconds: { type: 'string', default: '20' },
    batch: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    pool: { type: 'string', default: '5000' },
    cohorts: { type: 'string', default: '10' },
    baseline: { type: 'string', default: 'yes' },
    'ingest-thread': { type: 'string', default: 'no' },
  },
});
const engine = values.engine === 'postgres' ? 'postgres' : 'sqlite';
const LOAD = fileURLToPath(new URL('./ingest-load-child.ts', import.meta.url));
const log = (line: string) => console.error(line);

interface LoadResult {
  accepted: number;
  requests: number;
  elapsed: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** The sender's own CPU over the run, µs. */
  cpuUs: number;
}

function runLoad(url: string, apiKey: string, seconds: number, warm: boolean): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      LOAD,
      url,
      apiKey,
      String(seconds),
      values.batch,
      values.concurrency,
      values.pool,
      warm ? 'warm' : 'no',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) as string)) : reject(new Error(`load ${code}`)),
    ),
  );
}

/**
 * CPU seconds so far of the PostgreSQL backends serving this store's schema (same machine: /proc), by pid;
 * null on SQLite or when the server is not local. Backends that exit during the run are not counted.
 */
async function backendCpu(): Promise<Map<number, number> | null> {
  if (engine !== 'postgres') return null;
  const rows = await sql<{ pid: number }>`select pid from pg_stat_activity
    where datname = current_database()`.execute(composed.store.raw.db);
  const ticks = 100; // USER_HZ
  const out = new Map<number, number>();
  for (const { pid } of rows.rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / ticks);
    } catch {
      return null;
    }
  }
  return out;
}

/**
 * What the measured CPU per event means on two cores nobody else uses: the Node process runs on one core at
 * most (SQLite's work is inside it), and all of it — Node, PostgreSQL's backends, the sender — shares two.
 */
function capacityLine(
  r: { accepted: number; serverCpuSeconds: number; mainThreadCpuSeconds: number; cpuUs: number },
  backendSeconds: number | null,
) {
  const per = (seconds: number) => (seconds * 1e6) / Math.max(1, r.accepted);
  const node = per(r.serverCpuSeconds);
  const main = per(r.mainThreadCpuSeconds);
  const backends = backendSeconds === null ? 0 : per(backendSeconds);
  const sender = r.cpuUs / Math.max(1, r.accepted);
  const total = node + backends + sender;
  // Requests run on the main thread; SQLite's writes of ingestion on a worker thread (ingest-writer.ts).
  const capacity = Math.min(1e6 / main, 2e6 / total);
  const n = (x: number, d = 1) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return `CPU per event: service ${n(node)} µs (main thread ${n(main)} µs)${backendSeconds === null ? '' : ` + PostgreSQL backends ${n(backends)} µs`} + sender ${n(sender)} µs = ${n(total)} µs; on 2 otherwise idle cores that sustains about ${n(capacity, 0)} events/s (min of 1 core / main thread and 2 cores / total)`;
}

/** CPU seconds so far of this process's main thread (its task id is the pid). */
function mainThreadCpu(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs the load while sampling this process's CPU and RSS. */
async function measured(url: string, apiKey: string) {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpu();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(currentRssMb()), 500);
  const load = await runLoad(url, apiKey, Number(values.seconds), false);
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  return {
    ...load,
    eventsPerSecond: load.accepted / load.elapsed,
    serverCpuSeconds: (cpu.user + cpu.system) / 1e6,
    mainThreadCpuSeconds: mainThreadCpu() - main0,
    rssFirstMb: rss[0] ?? currentRssMb(),
    rssLastMb: rss.at(-1) ?? currentRssMb(),
  };
}

// ---- baseline: HTTP + JSON parse + Amplitude's 200, nothing else ----------------------------------------
const bare = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
bare.post('/2/httpapi', async (request) => {
  const body = request.body as { events?: unknown[] };
  return {
    code: 200,
    events_ingested: body.events?.length ?? 0,
    payload_size_bytes: 0,
    server_upload_time: Date.now(),
  };
});
const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
// `--baseline no` skips it (A/B runs of the service alone; the row then repeats the service's figures).
const skipBaseline = values.baseline === 'no';
if (!skipBaseline) log(`[ingest] baseline: bare Fastify JSON route, ${values.seconds} s`);
const baseline = skipBaseline ? undefined : await measured(bareUrl, 'unused');
await bare.close();

// ---- the service's ingestion --------------------------------------------------------------------------
const fresh = await throwawayStore(engine, values['database-url'] ?? process.env.DATABASE_URL, { prefix: 'bench-in' });
// --ingest-thread yes: SQLite's ingestion writes on a worker thread (src/adapters/store/ingest-writer.ts).
const threaded = values['ingest-thread'] === 'yes' && fresh.location.kind === 'sqlite';
const composed = await compose({
  store: threaded ? { ...fresh.location, ingestThread: true } : fresh.location,
  secretKey: randomBytes(32),
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
  braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 250_000 },
  ingest: { eventsPerSecond: 0 },
});
const { deps } = composed;
composed.behavioral.start();
const app = await buildHttpApp({
  deps,
  adminToken: generateToken('cs_admin'),
  tokens: { generate: generateToken, hash: hashToken },
  onMembershipChanged: composed.onMembershipChanged,
  extraRoutes: [ingestRoutes({ ingestion: composed.ingestion })],
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const cohorts = Number(values.cohorts);
try {
  const { project, ingestKey } = await createProject(
    deps,
    { generate: generateToken, hash: hashToken },
    { name: 'Ingestion bench' },
  );
  // The cohorts of the behavioral latency bench: one "bought in the last 10 minutes", the others "viewed page
  // /p/i at least 1–3 times in the last i+1 hours", every other one excluding plan = free.
  for (let i = 0; i < cohorts; i++)
    await createCohort(deps, project.id, {
      name: i === 0 ? 'Bought in the last 10 minutes' : `Viewers ${i}`,
      type: 'behavioral',
      definition:
        i === 0
          ? { all: [{ any: [{ event: 'Purchase', within: { last: 10, unit: 'minute' } }] }] }
          : {
              all: [
                {
                  any: [
                    {
                      event: 'View',
                      where: [{ property: 'page', op: 'eq', value: `/p/${i}` }],
                      count: { op: 'gte', value: 1 + (i % 3) },
                      within: { last: 1 + i, unit: 'hour' },
                    },
                  ],
                },
                ...(i % 2 === 0 ? [{ not: true, any: [{ userProperty: 'plan', op: 'eq', value: 'free' }] }] : []),
              ],
            },
    });
  log(`[ingest] ${engine}: warming ${values.pool} users, then ${values.seconds} s with ${cohorts} behavioral cohorts`);
  const warmStarted = performance.now();
  await runLoad(url, ingestKey, 0, true);
  const warmSeconds = (performance.now() - warmStarted) / 1000;
  const backends0 = await backendCpu();
  const result = await measured(url, ingestKey);
  const backends1 = await backendCpu();
  const backendSeconds =
    backends0 && backends1 ? [...backends1].reduce((sum, [pid, t]) => sum + t - (backends0.get(pid) ?? 0), 0) : null;
  const stored = Number(
    (
      await sql<{ n: number }>`select count(*) as n from events where project_id = ${project.id}`.execute(
        composed.store.raw.db,
      )
    ).rows[0]?.n,
  );
  const members = Number(
    (await sql<{ n: number }>`select count(*) as n from cohort_members`.execute(composed.store.raw.db)).rows[0]?.n,
  );
  const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const row = (name: string, r: typeof result) =>
    `| ${name} | ${f(r.eventsPerSecond)} | ${f(r.requests)} | ${f(r.p50Ms, 1)} / ${f(r.p95Ms, 1)} / ${f(r.p99Ms, 1)} | ${f(r.serverCpuSeconds / r.elapsed, 2)} | ${f((r.serverCpuSeconds * 1e6) / Math.max(1, r.accepted), 1)} | ${f(r.rssFirstMb)} → ${f(r.rssLastMb)} | ${JSON.stringify(r.statuses)} |`;
  console.log(
    [
      `load average at end ${loadavg()
        .map((x) => x.toFixed(1))
        .join(
          ' ',
        )}; engine ${engine}; batches of ${values.batch} events, ${values.concurrency} concurrent senders, ${values.pool} users, ${values.seconds} s; ${cohorts} behavioral cohorts`,
      '',
      '| server | events/s | requests | request ms p50 / p95 / p99 | server CPU (cores) | server CPU µs / event | server RSS MB (start → end) | statuses |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
      ...(baseline ? [row('bare Fastify JSON route (baseline)', baseline)] : []),
      row(`cohort-sync ingestion (${engine})`, result),
      '',
      capacityLine(result, backendSeconds),
      `warm-up (first sight of ${values.pool} users, one event each): ${f(warmSeconds, 1)} s; events stored ${f(stored)} (= ${f(result.accepted)} measured + ${values.pool} warm-up); cohort members at end ${f(members)}; server peak RSS ${f(peakRssMb())} MB`,
    ].join('\n'),
  );
} finally {
  await app.close();
  await composed.behavioral.stop();
  await composed.store.close();
  await fresh.drop();
}
