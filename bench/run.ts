// `npm run bench`: delta-planning and delivery figures for docs/benchmarks.md. Never part of `npm test`.
//
//   npm run bench                                  planner at 1M and 10M on SQLite (after 1% churn: the scheduled
//                                                  run from the changes, a full reconcile and sort|comm -3 of the
//                                                  same state; a real-time run after 100 changes), then delivery
//   npm run bench -- --sizes 100000,1000000        other cohort sizes
//   npm run bench -- --only planner|delivery|ingest|realtime|ui|attribute|behavioral|behavioral-latency   one part
//                                                  (each names its script in bench/, e.g. attribute: bench/attribute.ts)
//   npm run bench -- --engine postgres --database-url postgres://postgres@127.0.0.1:5432/test
//   npm run bench -- --json bench-results.json     also write every figure as JSON
//
// See --help for the rest. Each planner size runs in its own child process so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { type AckResult, benchAck } from './ack.ts';
import { BRAZE_REQUESTS_PER_HOUR, benchDeliveryInChild, type DeliveryResult } from './delivery.ts';
import { benchPlannerSize, fmtPhases, type PlannerSizeResult } from './planner.ts';
import { benchRealtime, realtimeMarkdownRow } from './realtime.ts';
import { benchRestart, type RestartResult } from './restart.ts';
import { benchUi, uiMarkdown } from './ui.ts';
import { benchUploadInChild, type UploadResult } from './upload.ts';

// Benches that are scripts of their own, run as children so their peak RSS is their own: part → script.
const STANDALONE_SCRIPTS = {
  attribute: './attribute.ts',
  behavioral: './behavioral.ts',
  'behavioral-latency': './behavioral-latency.ts',
} as const;
const STANDALONE_PARTS: string[] = Object.keys(STANDALONE_SCRIPTS);

const HELP = `usage: npm run bench -- [options]
  --sizes N[,N...]          planner cohort sizes (default 1000000,10000000)
  --engine sqlite|postgres  store engine (default sqlite)
  --database-url URL        PostgreSQL server for --engine postgres (default $DATABASE_URL); a throw-away schema is used
  --only planner|ack|delivery|upload|restart|ingest|realtime|ui|scale|attribute|behavioral|behavioral-latency
                            run one part only (default: all, in that order)
  --churn F                 planner: fraction of the cohort churned before the scheduled plan (default 0.01)
  --changes N               planner: members changed before the real-time plan (default 100)
  --no-baseline             skip the sort | comm -3 baseline
  --no-incremental          skip the plan after a few changes
  --delivery-seconds S      size the delivery cohort so that sending at the cap takes about S seconds (default 60)
  --delivery-members N      delivery cohort size (overrides --delivery-seconds)
  --delivery-sizes N[,N...] first syncs of these sizes at the cap, one child process each (overrides both above),
                            e.g. 1000000,4000000,10000000 for how time and memory grow
  --ceiling-members N       also deliver N members with the budget lifted, to show the executor's own ceiling (default 300000; 0 skips)
  --ack-acked N             identifiers already acknowledged in the acknowledgement bench (default 2000000)
  --upload-rows N[,N...]    CSV rows of the upload bench (default 1000000)
  --restart-members N       cohort of the restart bench (default 300000)
  --json FILE               write all results as JSON
  --keep                    keep the planner's temporary stores
  --scale-sections S[,S...] parts of --only scale (PostgreSQL): throughput,pickup,recovery,big (default all)
  --big-members N           the big section's first sync (default 10000000)`;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    engine: { type: 'string', default: 'sqlite' },
    'database-url': { type: 'string' },
    only: { type: 'string' },
    changes: { type: 'string', default: '100' },
    churn: { type: 'string', default: '0.01' },
    'no-baseline': { type: 'boolean', default: false },
    'no-incremental': { type: 'boolean', default: false },
    'delivery-seconds': { type: 'string', default: '60' },
    'delivery-members': { type: 'string' },
    'delivery-sizes': { type: 'string' },
    'ceiling-members': { type: 'string', default: '300000' },
    'ack-acked': { type: 'string', default: '2000000' },
    'upload-rows': { type: 'string', default: '1000000' },
    'restart-members': { type: 'string', default: '300000' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'scale-sections': { type: 'string', default: 'throughput,pickup,recovery,big' },
    'big-members': { type: 'string', default: '10000000' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const engine = values.engine;
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error(`--engine must be sqlite or postgres, not ${engine}`);
if (
  values.only !== undefined &&
  ![
    'planner',
    'ack',
    'delivery',
    'upload',
    'restart',
    'ingest',
    'realtime',
    'ui',
    'scale',
    ...STANDALONE_PARTS,
  ].includes(values.only)
)
  throw new Error(
    `--only must be planner, ack, delivery, upload, restart, ingest, realtime, ui, scale or ${STANDALONE_PARTS.join(', ')}`,
  );
const positive = (name: string, v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${v}`);
  return n;
};
const sizes = values.sizes.split(',').map((s) => positive('--sizes', s.trim()));
const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
const log = (line: string) => console.log(line);

const machine = {
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  sqlite: (new Database(':memory:').prepare('select sqlite_version() as v').get() as { v: string }).v,
  loadAtStart: loadavg().map((x) => Number(x.toFixed(2))),
};
log(
  `machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGb} GB, node ${machine.node}, SQLite ${machine.sqlite}, load ${machine.loadAtStart.join(' ')}`,
);

const planner: PlannerSizeResult[] = [];
const delivery: (DeliveryResult & { loadBefore: number[]; loadAfter: number[] })[] = [];
const acks: AckResult[] = [];
const uploads: UploadResult[] = [];
const restarts: RestartResult[] = [];

const churn = Number(values.churn);
if (!(churn > 0 && churn <= 1)) throw new Error(`--churn must be a fraction in (0, 1], not ${values.churn}`);
let plannerSeconds: number | null = null;
if (values.only === undefined || values.only === 'planner') {
  const plannerStarted = performance.now();
  for (const members of sizes) {
    planner.push(
      await benchPlannerSize(members, {
        engine,
        ...(databaseUrl ? { databaseUrl } : {}),
        baseline: !values['no-baseline'],
        incremental: !values['no-incremental'],
        changes: positive('--changes', values.changes),
        churn,
        keep: values.keep,
        log,
      }),
    );
  }
  plannerSeconds = (performance.now() - plannerStarted) / 1000;
}

if ((values.only === undefined || values.only === 'ack') && engine === 'sqlite') {
  const acked = positive('--ack-acked', values['ack-acked']);
  // Alternating, so that a change in the machine's load hits both variants alike.
  for (const variant of ['indexed', 'now', 'indexed', 'now'] as const) acks.push(await benchAck(variant, acked, 150));
}

if (values.only === undefined || values.only === 'upload') {
  for (const rows of values['upload-rows'].split(',').map((s) => positive('--upload-rows', s.trim())))
    uploads.push(benchUploadInChild(rows, engine === 'postgres' ? databaseUrl : undefined));
}

if ((values.only === undefined || values.only === 'restart') && engine === 'sqlite')
  restarts.push(await benchRestart(positive('--restart-members', values['restart-members']), log));

if (values.only === undefined || values.only === 'delivery') {
  const capPerSecond = BRAZE_REQUESTS_PER_HOUR / 3600;
  const members =
    values['delivery-members'] !== undefined
      ? positive('--delivery-members', values['delivery-members'])
      : Math.ceil(positive('--delivery-seconds', values['delivery-seconds']) * capPerSecond) * 1000;
  const sizesAtCap =
    values['delivery-sizes'] !== undefined
      ? values['delivery-sizes'].split(',').map((v) => positive('--delivery-sizes', v.trim()))
      : [members];
  const base = { engine, ...(databaseUrl ? { databaseUrl } : {}) } as const;
  const deliver = (n: number, requestsPerHour: number) => {
    const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
    const r = benchDeliveryInChild({ ...base, members: n, requestsPerHour });
    delivery.push({ ...r, loadBefore, loadAfter: loadavg().map((x) => Number(x.toFixed(2))) });
  };
  for (const n of sizesAtCap) deliver(n, BRAZE_REQUESTS_PER_HOUR);
  const ceiling = positive('--ceiling-members', values['ceiling-members']);
  if (ceiling > 0) deliver(ceiling, 1_000_000_000);
}

const loadAtEnd = loadavg().map((x) => Number(x.toFixed(2)));

// ---- report --------------------------------------------------------------------------------------------
const f = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '–' : n.toFixed(digits));
const count = (n: number) => n.toLocaleString('en-US');
const out: string[] = [];
out.push(
  '',
  `machine: ${machine.cpus} cores, node ${machine.node}, SQLite ${machine.sqlite}, engine ${engine}; load average ${machine.loadAtStart.join(' ')} at start, ${loadAtEnd.join(' ')} at end`,
);
if (planner.length > 0) {
  out.push(
    '',
    `planner part: ${f(plannerSeconds, 0)} s in all (seeding, churn, dumps included); ${f(churn * 100, 1)}% churn through the member API before the scheduled plan`,
    '',
    '| members | scheduled run, from the changes (s) | its CPU (s) | its peak RSS (MB) | full reconcile (s) | its CPU (s) | its peak RSS (MB) | sort\\|comm -3 (s) | its CPU (s) | its peak RSS (MB) | scheduled / baseline | reconcile / baseline | load (1 min) | real-time after changes (s) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  );
  for (const r of planner) {
    const b = r.baseline;
    out.push(
      `| ${count(r.members)} | ${f(r.scheduled.seconds, 3)} | ${f(r.scheduled.cpuSeconds, 3)} | ${f(r.scheduled.peakRssMb, 0)} | ${f(r.reconcile.seconds, 2)} | ${f(r.reconcile.cpuSeconds, 2)} | ${f(r.reconcile.peakRssMb, 0)} | ` +
        `${f(b?.seconds, 2)} | ${f(b?.cpuSeconds, 2)} | ${f(b?.peakRssMb, 0)} | ${b ? f(r.scheduled.seconds / b.seconds, 3) : '–'} | ${b ? f(r.reconcile.seconds / b.seconds, 2) : '–'} | ` +
        `${Object.values(r.load).join(' / ')} | ${f(r.incremental?.realtime.seconds, 3)} |`,
    );
  }
  out.push(
    '',
    'phases (wall s): ' +
      planner
        .map(
          (r) =>
            `${count(r.members)}: scheduled {${fmtPhases(r.scheduled.phases)}}, reconcile {${fmtPhases(r.reconcile.phases)}}, first plan ${f(r.first.seconds, 2)} s (+${count(r.first.adds)} -${count(r.first.removes)}), churn of ${count(r.churned)} members ${f(r.churnSeconds, 1)} s`,
        )
        .join('; '),
  );
}
if (delivery.length > 0) {
  out.push(
    '',
    '| members | budget (req/h) | insert (s) | plan (s) | sending (s) | sustained (req/s) | of the cap | 429s | lost | mean ack (ms) | executor CPU / batch (ms) | sandbox CPU / batch (ms) | peak RSS (MB) | load (1-min, before → after) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const d of delivery)
    out.push(
      `| ${count(d.members)} | ${count(d.requestsPerHour)} | ${f(d.insertSeconds, 1)} | ${f(d.planSeconds, 1)} | ${f(d.sendSeconds, 1)} | ${f(d.sustainedPerSecond, 1)} | ` +
        `${f(d.fractionOfCap * 100, 1)}% | ${d.rateLimited} | ${d.lost + d.unexpected} | ${f(d.meanAckMs, 1)} | ${f(d.executorCpuMsPerBatch, 2)} | ${f(d.sandboxCpuMsPerBatch, 2)} | ` +
        `${f(d.peakRssDuringRunMb, 0)} | ${d.loadBefore[0]} → ${d.loadAfter[0]} |`,
    );
}
for (const d of delivery) {
  out.push(
    '',
    `delivery of ${count(d.members)} members at ${count(d.requestsPerHour)}/h (${f(d.capPerSecond, 1)} req/s): ${count(d.membershipRequests)} membership requests in ${f(d.sendSeconds, 1)} s = ` +
      `${f(d.sustainedPerSecond, 1)} req/s = ${f(d.fractionOfCap * 100, 1)}% of the cap; statuses ${JSON.stringify(d.byStatus)}; 429s ${d.rateLimited}; ` +
      `run ${d.run.status} +${count(d.run.added)} failed ${d.run.failed}, ${d.run.batches} batches, ${d.run.requests} requests (${d.run.retries} retries); ` +
      `sandbox holds ${count(d.sandboxIdentifiers)} ids, lost ${d.lost}, unexpected ${d.unexpected}; planned in ${f(d.planSeconds, 1)} s; mean call ${f(d.meanCallMs, 1)} ms, mean ack ${f(d.meanAckMs, 1)} ms; per 10 s: ${d.perTenSeconds.join(' ')}; ` +
      `peak RSS during the run ${f(d.peakRssDuringRunMb, 0)} MB, ${f(d.rssAtEndOfRunMb, 0)} MB at its end (sandbox ${f(d.sandboxPeakRssMb, 0)} MB); ` +
      `CPU per batch: executor ${f(d.executorCpuMsPerBatch, 2)} ms (one core allows ${d.executorCpuMsPerBatch > 0 ? f(1000 / d.executorCpuMsPerBatch, 0) : '–'} req/s), sandbox ${f(d.sandboxCpuMsPerBatch, 2)} ms`,
  );
}
for (const a of acks)
  out.push(
    '',
    `acknowledgement of 1,000 new identifiers into ${count(a.acked)} (${a.variant === 'indexed' ? 'with the former (braze cohort, profile) index' : 'now'}): ` +
      `mean ${f(a.meanMs, 2)} ms, p95 ${f(a.p95Ms, 2)} ms over ${a.batches} = ${f(a.perSecond, 0)} acknowledgements/s`,
  );
for (const u of uploads) {
  const perMillion = (cpu: number) => f((cpu * 1e6) / u.rows, 2);
  out.push(
    '',
    `upload of ${count(u.rows)} CSV rows (${f(u.fileMb, 0)} MB), load ${u.loadBefore.join(' ')} → ${u.loadAfter.join(' ')}: ` +
      `PUT text/csv ${f(u.uploadSeconds, 1)} s = ${count(Math.round(u.rowsPerSecond))} rows/s, CPU ${f(u.uploadCpuSeconds, 1)} s (${perMillion(u.uploadCpuSeconds)} s per million rows = ${count(Math.round(u.rows / u.uploadCpuSeconds))} rows per CPU second), ` +
      `peak RSS ${f(u.peakRssBeforeMb, 0)} MB before → ${f(u.peakRssMb, 0)} MB, accepted ${count(u.accepted)}, size ${count(u.size)}; ` +
      `sqlite3 .import ${f(u.importSeconds, 1)} s, CPU ${f(u.importCpuSeconds, 1)} s (peak RSS ${f(u.importPeakRssMb, 0)} MB): ` +
      `the upload takes ${u.importSeconds ? f(u.uploadSeconds / u.importSeconds, 1) : '–'}× its time, ${u.importCpuSeconds ? f(u.uploadCpuSeconds / u.importCpuSeconds, 1) : '–'}× its CPU; ` +
      `POST members ${count(u.postRows)} in bodies of 10,000 (client in a child process)${u.walWaitSeconds === null ? '' : `, once the PUT's WAL was checkpointed (${f(u.walWaitSeconds, 1)} s after the POSTs straight after it)`}: ` +
      `${f(u.postSeconds, 1)} s = ${count(Math.round(u.postRowsPerSecond))} rows/s, CPU ${f(u.postCpuSeconds, 1)} s; ` +
      `straight after the PUT: ${f(u.postStraightSeconds, 1)} s = ${count(Math.round(u.postStraightRowsPerSecond))} rows/s, CPU ${f(u.postStraightCpuSeconds, 1)} s${u.busyRetries > 0 ? ` (${u.busyRetries} requests answered 503 store_busy, retried)` : ''}`,
  );
}
for (const r of restarts)
  out.push(
    '',
    `restart of a ${count(r.members)}-member first sync SIGKILLed with ${count(r.acknowledgedAtKill)} acknowledged: new serve listening ${f(r.killToListeningSeconds, 1)} s after the kill, ` +
      `first resumed request ${f(r.killToFirstRequestSeconds, 1)} s after it (lease TTL, what it waited before: ${r.leaseTtlSeconds} s); sandbox holds ${count(r.held)}, lost ${r.lost}; ` +
      `after the kill (s): spawned ${f(r.breakdown.spawned, 2)}, modules loaded ${f(r.breakdown.modulesLoaded, 2)}, leases voided ${f(r.breakdown.leasesVoided, 2)}, ` +
      `run resuming ${f(r.breakdown.resuming, 2)}, listening ${f(r.breakdown.listening, 2)}, first resumed request ${f(r.breakdown.firstRequest, 2)}; ` +
      `CPU of the new process until listening ${f(r.startCpuSeconds, 2)} s; load ${loadavg()[0]?.toFixed(1)}`,
  );
log(out.join('\n'));
if (values.only === undefined || values.only === 'ingest') {
  // Sustained /2/httpapi ingestion with ten behavioral cohorts, beside a bare-Fastify baseline (bench/ingest.ts).
  const args = ['--import', 'tsx', fileURLToPath(new URL('./ingest.ts', import.meta.url)), '--engine', engine];
  if (databaseUrl) args.push('--database-url', databaseUrl);
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`ingestion bench failed (${r.status})`);
}
if (values.only === undefined || values.only === 'realtime') {
  // Real-time latency: 100k members, 20 changes/s for 30 s (docs/benchmarks.md, "Real-time latency").
  const realtime = await benchRealtime({
    engine,
    ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}),
  });
  log(`real-time latency:\n${realtimeMarkdownRow(realtime)}`);
}
for (const [part, script] of Object.entries(STANDALONE_SCRIPTS)) {
  // Attribute-mode delivery (bench/attribute.ts), behavioral full evaluation (bench/behavioral.ts) and
  // event-to-Braze latency under ingestion (bench/behavioral-latency.ts); each prints its own figures.
  if (values.only !== undefined && values.only !== part) continue;
  const args = ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))];
  if (part !== 'attribute') args.push('--engine', engine, ...(databaseUrl ? ['--database-url', databaseUrl] : []));
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${part} bench failed (${r.status})`);
}
if (values.only === 'scale' || (values.only === undefined && engine === 'postgres')) {
  // Scale-out on PostgreSQL (bench/scale.ts): real API server and worker processes; the big section's 10M
  // first sync alone takes about half an hour on a loaded machine, so --scale-sections picks sections.
  if (!databaseUrl) throw new Error('the scale bench needs --database-url (or DATABASE_URL)');
  const args = [
    '--import',
    'tsx',
    fileURLToPath(new URL('./scale.ts', import.meta.url)),
    '--database-url',
    databaseUrl,
  ];
  args.push('--sections', values['scale-sections'], '--big-members', values['big-members']);
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`scale bench failed (${r.status})`);
}
if (values.only === undefined || values.only === 'ui') {
  // The web UI: first-load JS and the syncs page's time to interactive at 0 / 100 / 1,000 syncs (bench/ui.ts).
  log(`web UI:\n${uiMarkdown(await benchUi())}`);
}
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      { machine: { ...machine, loadAtEnd }, engine, plannerSeconds, planner, delivery, acks, uploads, restarts },
      null,
      2,
    ),
  );

const failures = [
  ...delivery
    .filter((d) => d.run.status !== 'succeeded' || d.lost > 0 || d.unexpected > 0)
    .map((d) => `delivery of ${d.members} lost ${d.lost}, run ${d.run.status}`),
];
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
