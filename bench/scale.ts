// The scale-out bench (docs/benchmarks.md "Scale-out on PostgreSQL"): real `cohort-sync serve --no-worker` and
// `cohort-sync worker` processes on a throw-away schema, the Braze sandbox in this process, members seeded with
// bulk SQL. Sections:
//   throughput  several keys × one cohort each, with 1, 2, 4, 8 worker processes (the key cap lifted)
//   pickup      time from a run being queued to a worker starting it, LISTEN/NOTIFY on vs polling only
//   recovery    a worker SIGKILLed mid-run: time until another worker acknowledges the next batch
//   big         a 10M-member first sync on one key against the sandbox enforcing 250,000 requests/hour
//
//   npx tsx bench/scale.ts --database-url postgres://postgres@127.0.0.1:5432/test [--sections throughput,pickup,recovery] [--big-members 10000000]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openStore } from '../src/adapters/store/index.ts';
import { type RunningSandbox, startSandbox } from '../src/sandbox/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const ADMIN = 'cs_admin_scale_bench_0123456789';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    sections: { type: 'string', default: 'throughput,pickup,recovery,big' },
    'throughput-keys': { type: 'string', default: '8' },
    'throughput-members': { type: 'string', default: '20000' },
    'big-members': { type: 'string', default: '10000000' },
    /** Requests in flight per run for the big section (BRAZE_CONCURRENCY; default the product's). */
    'big-concurrency': { type: 'string' },
  },
});
const url = values['database-url'] ?? process.env.DATABASE_URL;
if (!url) throw new Error('--database-url (or DATABASE_URL) is required');
const sections = new Set(values.sections.split(','));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Proc {
  readonly child: ChildProcess;
  readonly url: string;
}

function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry/cli/main.ts', ...args], { cwd: ROOT, env });
  return new Promise((ok, fail) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out)?.[1];
      if (m) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        ok({ child, url: m });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => fail(new Error(`${args[0]} exited with ${code}:\n${out}`)));
  });
}

const stop = async (p: Proc) => {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
};

/** Peak resident memory of a process so far (VmHWM), in MB. */
const peakRssMb = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
const cpuMsOf = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
};

type CpuSample = {
  workers: number;
  api: number;
  benchAndSandbox: number;
  postgres: Map<number, number>;
};
/** CPU ms per request between two samples, by process group. */
const cpuPerRequest = (a: CpuSample, b: CpuSample, requests: number) => {
  let postgres = 0;
  for (const [pid, ms] of b.postgres) postgres += ms - (a.postgres.get(pid) ?? 0);
  const per = (ms: number) => Math.round((ms / requests) * 10) / 10;
  return {
    workers: per(b.workers - a.workers),
    api: per(b.api - a.api),
    benchAndSandbox: per(b.benchAndSandbox - a.benchAndSandbox),
    postgres: per(postgres),
  };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

class Cluster {
  api!: Proc;
  workers: Proc[] = [];
  db!: pg.Client;
  env!: NodeJS.ProcessEnv;
  private schema = `bench_${randomBytes(4).toString('hex')}`;
  readonly bossSchema = `${this.schema}_pgboss`;
  private dir = mkdtempSync(join(tmpdir(), 'cs-scale-bench-'));

  constructor(
    readonly sandbox: RunningSandbox,
    private readonly extraEnv: Record<string, string>,
  ) {}

  async open(): Promise<void> {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${this.schema}`);
    await admin.end();
    const store = await openStore({ kind: 'postgres', url: url!, schema: this.schema });
    await store.close();
    this.db = new pg.Client({ connectionString: url, options: `-c search_path=${this.schema}` });
    await this.db.connect();
    this.env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: this.dir,
      DATABASE_URL: `${url}${url!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${this.schema}`)}`,
      COHORT_SYNC_SECRET_KEY: Buffer.alloc(32, 9).toString('base64'),
      COHORT_SYNC_ADMIN_TOKEN: ADMIN,
      BRAZE_PARTNER_API_KEY_US: 'sandbox-partner-key',
      BRAZE_SANDBOX: 'off',
      BRAZE_ALLOWED_ENDPOINTS: this.sandbox.url,
      LOG_LEVEL: 'warn',
      ...this.extraEnv,
    };
    this.api = await start(
      ['serve', '--no-worker', '--port', '0'],
      this.env,
      /cohort-sync listening on (http:\/\/\S+)/,
    );
  }

  async scaleTo(n: number, env: Record<string, string> = {}): Promise<void> {
    await Promise.all(this.workers.map(stop));
    this.workers = await Promise.all(
      Array.from({ length: n }, () =>
        start(['worker', '--port', '0'], { ...this.env, ...env }, /cohort-sync worker probes on (http:\/\/\S+)/),
      ),
    );
  }

  async call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.api.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as any;
  }

  /** A project with `keys` targets (each its own sandbox workspace) and one cohort of `members` per target. */
  async fixture(keys: number, members: number) {
    const project = await this.call('POST', '/projects', { name: `bench ${randomBytes(3).toString('hex')}` });
    const P = `/projects/${project.id}`;
    await this.call('PUT', `${P}/destinations/braze`, { enabled: true });
    const pairs: { targetId: string; cohortId: string; key: string }[] = [];
    const now = new Date().toISOString();
    for (let k = 0; k < keys; k++) {
      const key = this.sandbox.state.createWorkspace();
      const target = await this.call('POST', `${P}/destinations/braze/targets`, {
        name: `key ${k}`,
        endpoint: this.sandbox.url,
        dataImportKey: key,
        mapping: { type: 'user_id' },
      });
      const cohort = await this.call('POST', `${P}/cohorts`, { name: `c${k}`, type: 'static' });
      const prefix = `${project.id}-${k}-`;
      await this.db.query(
        `insert into profiles (project_id, user_id, properties, created_at, updated_at)
         select $1, $2 || i, '{}', $3, $3 from generate_series(1, $4::int) i`,
        [project.id, prefix, now, members],
      );
      await this.db.query(
        `insert into cohort_members (cohort_id, profile_id) select $1, id from profiles where project_id = $2 and user_id like $3`,
        [cohort.id, project.id, `${prefix}%`],
      );
      await this.db.query(`update cohorts set size = $1 where id = $2`, [members, cohort.id]);
      pairs.push({ targetId: target.id, cohortId: cohort.id, key });
    }
    return { P, pairs };
  }

  async sync(P: string, cohortId: string, targetId: string) {
    return this.call('POST', `${P}/syncs`, { cohortId, targetId, cadence: 'one_time' });
  }

  async finished(P: string, syncIds: string[], timeoutMs = 3_600_000) {
    const start = Date.now();
    for (;;) {
      const runs = await Promise.all(
        syncIds.map(async (id) => (await this.call('GET', `${P}/syncs/${id}/runs`)).items[0]),
      );
      if (runs.every((r) => r && ['succeeded', 'failed', 'cancelled'].includes(r.status))) return runs;
      if (Date.now() - start > timeoutMs) throw new Error('runs did not finish');
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers, this.api].filter(Boolean).map(stop));
    await this.db?.end();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop schema if exists ${this.schema} cascade`);
    await admin.query(`drop schema if exists ${this.schema}_pgboss cascade`);
    await admin.end();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const results: Record<string, unknown> = { load: loadavg().map((l) => Math.round(l * 10) / 10) };

if (sections.has('throughput')) {
  const keys = Number(values['throughput-keys']);
  const members = Number(values['throughput-members']);
  const sandbox = await startSandbox({ port: 0, requestsPerHour: 100_000_000 });
  const cluster = new Cluster(sandbox, { BRAZE_REQUESTS_PER_HOUR: '100000000', WORKER_CONCURRENCY: '2' });
  await cluster.open();
  const rows = [];
  for (const n of [1, 2, 4, 8]) {
    await cluster.scaleTo(n);
    const { P, pairs } = await cluster.fixture(keys, members);
    const t0 = performance.now();
    const syncs = [];
    for (const p of pairs) syncs.push((await cluster.sync(P, p.cohortId, p.targetId)).id);
    const runs = await cluster.finished(P, syncs);
    const seconds = (performance.now() - t0) / 1000;
    const ok = runs.every((r) => r.status === 'succeeded' && r.counts.added === members);
    const requests = runs.reduce((a, r) => a + r.requests, 0);
    const rss = cluster.workers.map((w) => peakRssMb(w.child.pid!));
    const row = {
      workers: n,
      seconds: Math.round(seconds * 10) / 10,
      identifiersPerSecond: Math.round((keys * members) / seconds),
      requestsPerSecond: Math.round(requests / seconds),
      allExact: ok,
      workerPeakRssMb: Math.max(...rss),
      load: Math.round(loadavg()[0]! * 10) / 10,
    };
    log(`throughput ${JSON.stringify(row)}`);
    rows.push(row);
  }
  results.throughput = { keys, members, rows };
  await cluster.close();
  await sandbox.close();
}

if (sections.has('pickup')) {
  const sandbox = await startSandbox({ port: 0, requestsPerHour: 100_000_000 });
  const out: Record<string, unknown> = {};
  for (const wakeup of ['on', 'off']) {
    // One worker with one pg-boss fetch loop: with more loops their polls interleave and hide the poll interval.
    const cluster = new Cluster(sandbox, {
      BRAZE_REQUESTS_PER_HOUR: '100000000',
      QUEUE_WAKEUP: wakeup,
      WORKER_CONCURRENCY: '1',
    });
    await cluster.open();
    await cluster.scaleTo(1);
    const { P, pairs } = await cluster.fixture(1, 1);
    await sleep(3_000); // workers idle: their next fetch is a poll away
    const latencies: number[] = [];
    // Where the time goes: queued → job stored (dispatch) → job fetched (pg-boss) → run started (worker).
    const parts = { dispatch: [] as number[], fetch: [] as number[], start: [] as number[] };
    for (let i = 0; i < 20; i++) {
      const sync = await cluster.sync(P, pairs[0]!.cohortId, pairs[0]!.targetId);
      const [run] = await cluster.finished(P, [sync.id]);
      latencies.push(Date.parse(run.startedAt) - Date.parse(run.queuedAt));
      const job = (
        await cluster.db.query(
          `select extract(epoch from created_on) * 1000 as created, extract(epoch from started_on) * 1000 as started
           from ${cluster.bossSchema}.job where name = 'cohort-sync-runs' order by created_on desc limit 1`,
        )
      ).rows[0];
      if (job) {
        parts.dispatch.push(Number(job.created) - Date.parse(run.queuedAt));
        parts.fetch.push(Number(job.started) - Number(job.created));
        parts.start.push(Date.parse(run.startedAt) - Number(job.started));
      }
      // Arrivals at uniformly random points of the 2-s poll cycle: a fixed short gap would land each request at
      // the same phase (the previous job's run takes about as long as the poll interval).
      await sleep(1_000 + Math.random() * 2_000);
    }
    const row = {
      p50Ms: pct(latencies, 50),
      p95Ms: pct(latencies, 95),
      maxMs: Math.max(...latencies),
      n: latencies.length,
      p50PartsMs: {
        dispatch: Math.round(pct(parts.dispatch, 50)),
        fetch: Math.round(pct(parts.fetch, 50)),
        start: Math.round(pct(parts.start, 50)),
      },
    };
    log(`pickup wakeup=${wakeup} ${JSON.stringify(row)}`);
    out[wakeup === 'on' ? 'listenNotify' : 'pollingOnly'] = row;
    await cluster.close();
  }
  results.pickup = { pollSeconds: 2, ...out };
  await sandbox.close();
}

if (sections.has('recovery')) {
  const budget = 20; // per second per key; 60 batches take ~3.5 s of sending
  const sandbox = await startSandbox({ port: 0, requestsPerHour: budget, budgetWindowMs: 1_000 });
  const ttl = 5;
  const cluster = new Cluster(sandbox, {
    BRAZE_REQUESTS_PER_HOUR: String(budget),
    BRAZE_BUDGET_WINDOW_SECONDS: '1',
    LEASE_TTL_SECONDS: String(ttl),
    WORKER_CONCURRENCY: '1',
  });
  await cluster.open();
  const rows = [];
  for (let round = 0; round < 3; round++) {
    await cluster.scaleTo(2);
    const { P, pairs } = await cluster.fixture(1, 60_000);
    const sync = await cluster.sync(P, pairs[0]!.cohortId, pairs[0]!.targetId);
    // This round's Braze cohort only: the rounds before left their identifiers and cohorts in the same schema.
    const cohortId = pairs[0]!.cohortId;
    const acked = async () =>
      Number(
        (
          await cluster.db.query(
            `select count(*)::int as n from braze_identifiers i join braze_cohorts b on b.id = i.braze_cohort_id
             where b.cohort_id = $1`,
            [cohortId],
          )
        ).rows[0].n,
      ) as number;
    const leaseOwner = async (): Promise<string | undefined> =>
      (await cluster.db.query(`select lease_owner from braze_cohorts where cohort_id = $1`, [cohortId])).rows[0]
        ?.lease_owner ?? undefined;
    let owner = '';
    while ((await acked()) < 10_000) await sleep(20);
    owner = (await leaseOwner()) ?? '';
    const victim = cluster.workers.find((w) => w.child.pid === Number(owner.split(':')[1]));
    if (!victim) throw new Error(`the lease holder ${owner} is none of this round's workers`);
    const before = await acked();
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    // Acknowledgements already committed may still be counted; the survivor's first is the next growth after
    // the lease changed hands.
    let resumedMs = Number.NaN;
    for (;;) {
      const now = await leaseOwner();
      if (now && now !== owner && (await acked()) > before) {
        resumedMs = performance.now() - killedAt;
        break;
      }
      await sleep(20);
    }
    const [run] = await cluster.finished(P, [sync.id]);
    const finishedMs = performance.now() - killedAt;
    const held = sandbox.state.cohortIdentifiers(pairs[0]!.key, pairs[0]!.cohortId).user_ids.length;
    const row = {
      resumedMs: Math.round(resumedMs),
      finishedMs: Math.round(finishedMs),
      status: run.status,
      exact: held === 60_000,
    };
    log(`recovery ${JSON.stringify(row)}`);
    rows.push(row);
  }
  results.recovery = { leaseTtlSeconds: ttl, sweepMs: Math.min(5000, (ttl * 1000) / 3), rows };
  await cluster.close();
  await sandbox.close();
}

if (sections.has('big')) {
  const members = Number(values['big-members']);
  const perHour = 250_000;
  const sandbox = await startSandbox({ port: 0, requestsPerHour: perHour });
  const cluster = new Cluster(sandbox, {
    BRAZE_REQUESTS_PER_HOUR: String(perHour),
    ...(values['big-concurrency'] ? { BRAZE_CONCURRENCY: values['big-concurrency'] } : {}),
  });
  await cluster.open();
  await cluster.scaleTo(2);
  const seedStart = performance.now();
  const { P, pairs } = await cluster.fixture(1, members);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  log(`big: seeded ${members} members in ${seedSeconds.toFixed(0)} s`);
  const t0 = performance.now();
  const sync = await cluster.sync(P, pairs[0]!.cohortId, pairs[0]!.targetId);
  // Sending: from the first to the last membership request the sandbox counted (sampled every 200 ms).
  let first = Number.NaN;
  let last = Number.NaN;
  let lastCount = 0;
  let done: { status: string; counts: { added: number }; requests: number } | undefined;
  const rss: number[] = [];
  // CPU while sending, by process: where a request's cost goes (workers, API server, this process with the
  // sandbox, PostgreSQL's backends for this database), so a loaded machine's figures can be read as costs.
  const backends = async () =>
    (await cluster.db.query(`select pid from pg_stat_activity where datname = current_database()`)).rows.map((r) =>
      Number(r.pid),
    );
  // PostgreSQL's backends by pid: pools may open connections meanwhile (counted from 0) or close them (their
  // CPU since the first sample is lost, so this undercounts if they do).
  const cpuNow = async () => {
    const own = process.cpuUsage();
    return {
      workers: cluster.workers.reduce((a, w) => a + cpuMsOf(w.child.pid!), 0),
      api: cpuMsOf(cluster.api.child.pid!),
      benchAndSandbox: (own.user + own.system) / 1000,
      postgres: new Map((await backends()).map((pid) => [pid, cpuMsOf(pid)])),
    };
  };
  let cpuFirst: CpuSample | undefined;
  let cpuLast: CpuSample | undefined;
  let countFirst = 0;
  let countLast = 0;
  while (!done) {
    const count = sandbox.state.stats().requests;
    const now = performance.now();
    if (count > 1 && Number.isNaN(first)) {
      first = now;
      countFirst = count;
      cpuFirst = await cpuNow();
    }
    if (count !== lastCount) {
      last = now;
      countLast = count;
      if (cpuFirst) cpuLast = await cpuNow();
    }
    lastCount = count;
    rss.push(...cluster.workers.map((w) => peakRssMb(w.child.pid!)));
    const run = (await cluster.call('GET', `${P}/syncs/${sync.id}/runs`)).items[0];
    if (run && ['succeeded', 'failed', 'cancelled'].includes(run.status)) done = run;
    else await sleep(200);
  }
  const stats = sandbox.state.stats();
  const sendSeconds = (last - first) / 1000;
  const membershipRequests = stats.requests - 1; // one name call
  const held = sandbox.state.cohortIdentifiers(pairs[0]!.key, pairs[0]!.cohortId).user_ids.length;
  const row = {
    members,
    concurrency: values['big-concurrency'] ?? 'default',
    seedSeconds: Math.round(seedSeconds),
    totalSeconds: Math.round((performance.now() - t0) / 1000),
    sendSeconds: Math.round(sendSeconds * 10) / 10,
    membershipRequests,
    byStatus: stats.byStatus,
    fractionOfCap: Math.round((membershipRequests / sendSeconds / (perHour / 3600)) * 1000) / 1000,
    status: done.status,
    added: done.counts.added,
    lost: members - held,
    workerPeakRssMb: Math.max(...rss),
    benchProcessPeakRssMb: peakRssMb(process.pid),
    planningSeconds: Math.round((first - t0) / 100) / 10,
    // CPU per membership request while sending; the sum over the machine's cores bounds the rate a quiet
    // machine could sustain: cores × 1000 / total requests/s.
    cpuMsPerRequest:
      cpuFirst && cpuLast && countLast > countFirst ? cpuPerRequest(cpuFirst, cpuLast, countLast - countFirst) : null,
    load: loadavg().map((l) => Math.round(l * 10) / 10),
  };
  log(`big ${JSON.stringify(row)}`);
  results.big = row;
  await cluster.close();
  await sandbox.close();
}

results.loadAtEnd = loadavg().map((l) => Math.round(l * 10) / 10);
console.log(`RESULT ${JSON.stringify(results)}`);
