// Event-to-Braze latency of a behavioral cohort's real-time sync while ingesting at a steady rate
// (docs/benchmarks.md "Behavioral cohorts"). The service as `cohort-sync serve` wires it: ingestion routes,
// the behavioral listener and sweeper, worker and scheduler in one process; the event source and the Braze
// sandbox each in a process of their own. Ten behavioral cohorts are defined; one ("bought in the last 10
// minutes") has a real-time sync. Every probe is a Purchase by a new user inside an ordinary batch; its
// latency is the time from sending that request to the sandbox receiving the user in a membership call.
//
//   npx tsx bench/behavioral-latency.ts [--rate 5000] [--seconds 30] [--batch 100] [--probe-ms 200] [--cohorts 10]
//                                       [--engine sqlite|postgres] [--database-url …]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { createCohort } from '../src/app/cohort-admin.ts';
import { createProject } from '../src/app/projects.ts';
import { startScheduler } from '../src/app/scheduler.ts';
import { createSync } from '../src/app/syncs.ts';
import { createTarget } from '../src/app/targets.ts';
import { startWorker } from '../src/app/worker.ts';
import { compose } from '../src/entry/compose.ts';
import { buildHttpApp } from '../src/entry/http/app.ts';
import { ingestRoutes } from '../src/entry/http/routes/ingest.ts';
import { forkWithAsk } from './child-ipc.ts';
import { currentRssMb, peakRssMb } from './rss.ts';
import { throwawayStore } from './throwaway-store.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    'database-url': { type: 'string' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    batch: { type: 'string', default: '100' },
    'probe-ms': { type: 'string', default: '200' },
    cohorts: { type: 'string', default: '10' },
  },
});
const engine = values.engine === 'postgres' ? 'postgres' : 'sqlite';
const SANDBOX = fileURLToPath(new URL('./realtime-sandbox-child.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('./behavioral-load-child.ts', import.meta.url));
const log = (line: string) => console.error(line);

const percentile = (xs: readonly number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? Number.NaN;
const round = (x: number) => Math.round(x * 10) / 10;

const { child: sandboxChild, ask } = forkWithAsk(SANDBOX, []);
const { url: sandboxUrl } = await ask<{ url: string }>({}, 0);
const fresh = await throwawayStore(engine, values['database-url'] ?? process.env.DATABASE_URL, { prefix: 'bench-bh' });
const composed = await compose({
  store: fresh.location,
  secretKey: randomBytes(32),
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
  braze: { partnerSlug: 'cohort-sync', partnerKeys: { US: 'sandbox-partner-key' }, requestsPerHour: 250_000 },
  settings: { allowedEndpoints: [sandboxUrl] },
});
const { deps } = composed;
const worker = await startWorker(deps, { owner: composed.owner });
const scheduler = startScheduler(deps);
composed.behavioral.start();
const app = await buildHttpApp({
  deps,
  adminToken: generateToken('cs_admin'),
  tokens: { generate: generateToken, hash: hashToken },
  onMembershipChanged: composed.onMembershipChanged,
  extraRoutes: [ingestRoutes({ ingestion: composed.ingestion })],
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
try {
  const { project, ingestKey } = await createProject(
    deps,
    { generate: generateToken, hash: hashToken },
    { name: 'Behavioral latency bench' },
  );
  await deps.store.projects.update(project.id, { brazeEnabled: true }, new Date().toISOString());
  const key = (await ask<{ key: string }>({ op: 'workspace' })).key;
  const target = await createTarget(deps, project.id, {
    name: 'sandbox',
    endpoint: sandboxUrl,
    dataImportKey: key,
    mapping: { type: 'user_id' },
  });
  const synced = await createCohort(deps, project.id, {
    name: 'Bought in the last 10 minutes',
    type: 'behavioral',
    definition: { all: [{ any: [{ event: 'Purchase', within: { last: 10, unit: 'minute' } }] }] },
  });
  // More cohorts the listener evaluates on every batch (no syncs): --cohorts in all, 10 by default.
  for (let i = 0; i < Number(values.cohorts) - 1; i++)
    await createCohort(deps, project.id, {
      name: `Viewers ${i}`,
      type: 'behavioral',
      definition: {
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
  await createSync(deps, project.id, { cohortId: synced.id, targetId: target.id, cadence: 'real_time' });
  await composed.queue.idle();
  await ask({ op: 'arm', key });
  log(`[behavioral-latency] ${engine}: ${values.rate} events/s for ${values.seconds} s, batches of ${values.batch}`);

  // The service's CPU while the stream runs (all of it is in this process on SQLite): per event, this is what
  // does not depend on how many other programs share the machine.
  const cpu0 = process.cpuUsage();
  const load = spawn(
    process.execPath,
    ['--import', 'tsx', LOAD, url, ingestKey, values.rate, values.seconds, values.batch, values['probe-ms']],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  load.stdout.on('data', (d) => {
    out += String(d);
  });
  await new Promise((r) => load.on('exit', r));
  const cpu = process.cpuUsage(cpu0);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
    probes: [string, number][];
    sent: number;
    failed: number;
    statuses: Record<string, number>;
    elapsed: number;
  };
  const arrivals = async () =>
    new Map((await ask<{ added: [string, number][] }>({ op: 'arrivals' })).added.map(([id, at]) => [id, at]));
  let seen = await arrivals();
  const deadline = Date.now() + 60_000;
  while (result.probes.some(([id]) => !seen.has(id)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    seen = await arrivals();
  }
  const latencies = result.probes
    .map(([id, sentAt]) => (seen.has(id) ? seen.get(id)! - sentAt : null))
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  const missing = result.probes.length - latencies.length;
  const summary = {
    engine,
    eventsPerSecond: Number(values.rate),
    achievedEventsPerSecond: Math.round(result.sent / result.elapsed),
    seconds: Number(values.seconds),
    events: result.sent,
    failedEvents: result.failed,
    statuses: result.statuses,
    probes: result.probes.length,
    missing,
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? Number.NaN),
    },
    serviceCpuUsPerEvent: round((cpu.user + cpu.system) / Math.max(1, result.sent)),
    serviceCpuCores: round((cpu.user + cpu.system) / 1e6 / result.elapsed),
    loadAverageAtEnd: loadavg().map((x) => round(x)),
    servicePeakRssMb: Math.round(peakRssMb()),
    serviceRssAtEndMb: Math.round(currentRssMb()),
  };
  // Where the time after ingestion goes: the sync's runs by how they planned, and their queue and run times.
  const runRows = (
    await sql<{
      mode: string;
      planned_from: string | null;
      queued_at: string;
      started_at: string | null;
      finished_at: string | null;
    }>`
      select mode, planned_from, queued_at, started_at, finished_at from runs where project_id = ${project.id}`.execute(
      composed.store.raw.db,
    )
  ).rows;
  const ms = (a: string | null, b: string | null) => (a && b ? Date.parse(b) - Date.parse(a) : Number.NaN);
  const spread = (xs: number[]) => {
    const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return { p50: percentile(s, 50), p95: percentile(s, 95), max: s.at(-1) ?? Number.NaN };
  };
  const plannedFrom: Record<string, number> = {};
  for (const r of runRows)
    plannedFrom[`${r.mode}/${r.planned_from}`] = (plannedFrom[`${r.mode}/${r.planned_from}`] ?? 0) + 1;
  const runs = {
    count: runRows.length,
    plannedFrom,
    queuedMs: spread(runRows.map((r) => ms(r.queued_at, r.started_at))),
    runningMs: spread(runRows.map((r) => ms(r.started_at, r.finished_at))),
  };
  console.log(JSON.stringify({ ...summary, runs }, null, 2));
  console.log(
    `| ${engine} | ${summary.eventsPerSecond.toLocaleString('en-US')} (${summary.achievedEventsPerSecond.toLocaleString('en-US')} achieved) × ${summary.seconds} s | ${summary.probes} | ${summary.latencyMs.p50} | ${summary.latencyMs.p95} | ${summary.latencyMs.p99} | ${summary.latencyMs.max} | ${missing} | ${summary.serviceCpuUsPerEvent} | ${summary.servicePeakRssMb} MB | ${summary.loadAverageAtEnd.join(' ')} |`,
  );
} finally {
  await app.close();
  await scheduler.stop();
  await composed.behavioral.stop();
  await worker.stop();
  await composed.store.close();
  if (sandboxChild.exitCode === null) await ask({ op: 'close' }).catch(() => undefined);
  await fresh.drop();
}
