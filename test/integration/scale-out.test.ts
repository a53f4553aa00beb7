// Scale-out on PostgreSQL, as deployed: one API server (`serve --no-worker`) and three `cohort-sync worker`
// processes on a fresh schema, pg-boss carrying the runs, the Braze sandbox enforcing a per-key budget of 10
// requests per second. Three large syncs share one Data Import Key; the worker holding a lease is SIGKILLed
// mid-run. Checked: every cohort converges exactly, resends stay within the killed worker's in-flight batches,
// no request was refused by the budget (the shared limiter paced all processes as one), pg-boss carried the
// jobs, a cron sync runs once per due minute however many schedulers tick, the workers' probes answer, and
// SIGTERM stops every process cleanly.
//
// The cron check does not wait for real time: its sync runs once a year, and the test moves its next_run_at into
// the past three times — what the arrival of a due minute does to the due-scanner — and checks that exactly
// one run follows each time while four processes' schedulers tick every second.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBossSchemaFor, RUN_QUEUE } from '../../src/adapters/queue/pg-boss-schema.ts';
import { openStore } from '../../src/adapters/store/index.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import { ENGINES } from '../support/engines.ts';

const postgres = ENGINES.find((e) => e.name === 'postgres');
const ROOT = resolve(import.meta.dirname, '..', '..');
const ADMIN = 'cs_admin_scale_out_0123456789';
const BUDGET_PER_SECOND = 10;
const CONCURRENCY = 4;
const MEMBERS = 24_000; // 24 batches of 1,000 per cohort
const COHORTS = 3;

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  output: string;
}

function startProcess(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entry/cli/main.ts', ...args], { cwd: ROOT, env });
  return new Promise((resolveProc, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not come up:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const url = ready.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        const proc: Proc = { name, child, url, output };
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        const keep = (chunk: Buffer) => (proc.output += chunk.toString());
        child.stdout?.on('data', keep);
        child.stderr?.on('data', keep);
        resolveProc(proc);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${output}`)));
  });
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.exitCode !== null || child.signalCode !== null
      ? r({ code: child.exitCode, signal: child.signalCode })
      : child.once('exit', (code, signal) => r({ code, signal })),
  );

const t0 = Date.now();
const step = (what: string) => {
  if (process.env.TEST_LOG_LEVEL) console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
};
let processes: Proc[] = [];

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000) {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `timed out waiting for ${what}\n${processes.map((p) => `--- ${p.name}\n${p.output.slice(-3000)}`).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!postgres)('scale-out: one API server and three workers on PostgreSQL', () => {
  let sandbox: RunningSandbox;
  let dropSchema: () => Promise<void>;
  let db: pg.Client;
  let bossSchema: string;
  let api: Proc;
  const workers: Proc[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const call = async (method: string, path: string, body?: unknown, type = 'application/json') => {
    const res = await fetch(`${api.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': type } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };

  beforeAll(async () => {
    const fresh = await postgres!.fresh();
    dropSchema = fresh.drop;
    const location = fresh.location as { kind: 'postgres'; url: string; schema: string };
    const store = await openStore(location); // migrate once, as `cohort-sync migrate` would
    bossSchema = pgBossSchemaFor(await store.currentSchema());
    await store.close();
    db = new pg.Client({ connectionString: location.url, options: `-c search_path=${location.schema}` });
    await db.connect();

    sandbox = await startSandbox({ port: 0, requestsPerHour: BUDGET_PER_SECOND, budgetWindowMs: 1_000 });
    dir = mkdtempSync(join(tmpdir(), 'cs-scale-out-'));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dir,
      DATABASE_URL: `${location.url}${location.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${location.schema}`)}`,
      COHORT_SYNC_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
      COHORT_SYNC_ADMIN_TOKEN: ADMIN,
      BRAZE_PARTNER_API_KEY_US: 'sandbox-partner-key',
      BRAZE_SANDBOX: 'off',
      BRAZE_ALLOWED_ENDPOINTS: sandbox.url,
      BRAZE_REQUESTS_PER_HOUR: String(BUDGET_PER_SECOND),
      BRAZE_BUDGET_WINDOW_SECONDS: '1',
      BRAZE_CONCURRENCY: String(CONCURRENCY),
      // One Braze cohort per process: the three syncs run on three processes at once, sharing one key's budget.
      WORKER_CONCURRENCY: '1',
      LEASE_TTL_SECONDS: '3',
      SCHEDULER_INTERVAL_SECONDS: '1',
      QUEUE_POLL_SECONDS: '2',
      LOG_LEVEL: 'warn',
    };
    const listening = /cohort-sync listening on (http:\/\/\S+)/;
    const probes = /cohort-sync worker probes on (http:\/\/\S+)/;
    const started = await Promise.all([
      startProcess('api', ['serve', '--no-worker', '--port', '0'], env, listening),
      ...[1, 2, 3].map((i) => startProcess(`worker-${i}`, ['worker', '--port', '0'], env, probes)),
    ]);
    api = started[0]!;
    workers.push(...started.slice(1));
    processes = started;
    step('four processes up');
  }, 120_000);

  afterAll(async () => {
    for (const p of [api, ...workers]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
    await db?.end();
    await sandbox?.close();
    await dropSchema?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shares runs, survives a SIGKILL, holds the key budget, schedules once, and stops on SIGTERM', async () => {
    const dataImportKey = sandbox.state.createWorkspace();
    const project = (await call('POST', '/projects', { name: 'Scale' })).body;
    const P = `/projects/${project.id}`;
    const target = await call('POST', `${P}/destinations/braze/targets`, {
      name: 'One key',
      endpoint: sandbox.url,
      dataImportKey,
      mapping: { type: 'user_id' },
    });
    expect(target.status).toBe(201);

    expect((await call('PUT', `${P}/destinations/braze`, { enabled: true })).status).toBe(200);

    // Members in bulk SQL: the CSV import of 72,000 members would take longer than the whole scenario here.
    const cohorts: { id: string; members: string[]; syncId?: string }[] = [];
    const now = new Date().toISOString();
    for (let c = 0; c < COHORTS; c++) {
      const cohort = (await call('POST', `${P}/cohorts`, { name: `Large ${c}`, type: 'static' })).body;
      await db.query(
        `insert into profiles (project_id, user_id, properties, created_at, updated_at)
         select $1, $2 || lpad(i::text, 6, '0'), '{}', $3, $3 from generate_series(0, $4 - 1) i`,
        [project.id, `u${c}-`, now, MEMBERS],
      );
      await db.query(
        `insert into cohort_members (cohort_id, profile_id)
         select $1, id from profiles where project_id = $2 and user_id like $3`,
        [cohort.id, project.id, `u${c}-%`],
      );
      await db.query(`update cohorts set size = $1 where id = $2`, [MEMBERS, cohort.id]);
      const members = Array.from({ length: MEMBERS }, (_, i) => `u${c}-${String(i).padStart(6, '0')}`);
      cohorts.push({ id: cohort.id, members });
    }
    for (const c of cohorts) {
      const sync = await call('POST', `${P}/syncs`, { cohortId: c.id, targetId: target.body.id, cadence: 'one_time' });
      expect(sync.status).toBe(201);
      c.syncId = sync.body.id;
    }

    step('syncs created');
    // Once each of the three workers holds one sync's lease and has acknowledged a few batches, SIGKILL one.
    const victimPid = await until('three workers mid-run', async () => {
      const r = await db.query<{ owner: string; acked: number }>(
        `select b.lease_owner as owner,
                (select count(*) from braze_identifiers i where i.braze_cohort_id = b.id)::int as acked
         from braze_cohorts b where b.lease_owner is not null and b.lease_until > $1`,
        [new Date().toISOString()],
      );
      const owners = new Set(r.rows.map((row) => row.owner));
      const busy = r.rows.find((row) => row.acked >= 3000);
      return owners.size === COHORTS && busy ? Number(busy.owner.split(':')[1]) : undefined;
    });
    const victim = workers.find((w) => w.child.pid === victimPid);
    expect(victim, `lease owner pid ${victimPid} is one of the workers`).toBeDefined();
    const killedAt = Date.now();
    victim!.child.kill('SIGKILL');
    expect((await exitOf(victim!.child)).signal).toBe('SIGKILL');

    step(`killed ${victim!.name}`);
    const runs = await until(
      'every run to finish',
      async () => {
        const all = [];
        for (const c of cohorts) {
          const list = (await call('GET', `${P}/syncs/${c.syncId}/runs`)).body.items;
          if (!list[0] || !['succeeded', 'failed', 'cancelled'].includes(list[0].status)) return undefined;
          all.push(list[0]);
        }
        return all;
      },
      90_000,
    );
    for (const run of runs) expect(run).toMatchObject({ status: 'succeeded', counts: { added: MEMBERS } });
    const recoveredMs = Date.now() - killedAt;
    step('runs finished');

    // Every cohort converged exactly in Braze.
    for (const c of cohorts) {
      const held = sandbox.state.cohortIdentifiers(dataImportKey, c.id);
      expect(held.user_ids).toEqual([...c.members].sort());
    }

    // Resends: identifiers the sandbox accepted beyond each cohort's size are batches the killed worker had in
    // flight (sent, not yet acknowledged); at most BRAZE_CONCURRENCY batches of 1,000 across the run.
    // The sandbox keeps its last 1,000 requests: all of this scenario's.
    expect(sandbox.state.stats().requests).toBeLessThan(1_000);
    const log = sandbox.state.requests(1_000);
    const membership = log.filter((r) => r.path.endsWith('/cohorts/users'));
    let resent = 0;
    for (const c of cohorts) {
      const sent = membership
        .filter((r) => r.status >= 200 && r.status < 300 && (r.body as { cohort_id?: string }).cohort_id === c.id)
        .reduce((n, r) => n + r.identifiers, 0);
      expect(sent).toBeGreaterThanOrEqual(MEMBERS);
      resent += sent - MEMBERS;
    }
    expect(resent).toBeLessThanOrEqual(CONCURRENCY * 1_000);

    // The key's budget held across four processes: the sandbox refused nothing, and no second of its fixed
    // windows saw more than the budget.
    expect(log.filter((r) => r.status === 429)).toEqual([]);
    const perSecond = new Map<number, number>();
    for (const r of log) {
      const s = Math.floor(Date.parse(r.at) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(BUDGET_PER_SECOND);

    // pg-boss carried the jobs: every Braze cohort's work was a completed job, some carried by a survivor, and
    // the killed worker's job is still "active" in pg-boss — the run resumed from our lease, not pg-boss expiry.
    const jobs = await db.query<{ key: string; state: string; worker: string | null }>(
      `select singleton_key as key, state::text as state, output->>'worker' as worker from ${bossSchema}.job
       where name = $1`,
      [RUN_QUEUE],
    );
    const audiences = (
      await db.query<{ id: string }>(`select braze_cohort_ref as id from syncs where project_id = $1`, [project.id])
    ).rows.map((r) => r.id);
    const completed = jobs.rows.filter((j) => j.state === 'completed');
    for (const id of audiences) expect(completed.map((j) => j.key)).toContain(id);
    const pidOf = (owner: string | null) => Number(owner?.split(':')[1]);
    expect(completed.some((j) => pidOf(j.worker) !== victimPid)).toBe(true);
    expect(jobs.rows.filter((j) => j.state === 'active').length).toBeGreaterThanOrEqual(1);

    // A cron sync: its first run at creation, then exactly one run per due minute with four schedulers ticking.
    const small = (await call('POST', `${P}/cohorts`, { name: 'Small', type: 'static' })).body;
    await call('PUT', `${P}/cohorts/${small.id}/members`, 'user_id\ns1\ns2\n', 'text/csv');
    const cron = (
      await call('POST', `${P}/syncs`, {
        cohortId: small.id,
        targetId: target.body.id,
        cadence: 'cron',
        // Once a year, so no real due minute falls into the test: each one here is one we simulate.
        cron: '0 0 1 1 *',
      })
    ).body;
    const scheduled = async () =>
      ((await call('GET', `${P}/syncs/${cron.id}/runs`)).body.items as { trigger: string; status: string }[]).filter(
        (r) => r.trigger === 'schedule',
      );
    const settled = async (n: number) =>
      until(`${n} scheduled runs done`, async () => {
        const list = await scheduled();
        return list.length >= n && list.every((r) => r.status === 'succeeded') ? list : undefined;
      });
    await settled(1);
    for (let minute = 1; minute <= 3; minute++) {
      await db.query(`update syncs set next_run_at = $1 where id = $2`, [
        new Date(Date.now() - 1_000).toISOString(),
        cron.id,
      ]);
      await settled(1 + minute);
      const next = await db.query<{ next_run_at: string }>(`select next_run_at from syncs where id = $1`, [cron.id]);
      expect(Date.parse(next.rows[0]!.next_run_at)).toBeGreaterThan(Date.now());
    }
    await new Promise((r) => setTimeout(r, 2_500)); // more ticks of every process: nothing else is due
    expect(await scheduled()).toHaveLength(4);

    // The surviving workers' probes.
    for (const w of workers.filter((w) => w !== victim)) {
      expect(await (await fetch(`${w.url}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${w.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', queue: 'ok' } });
      expect((await fetch(`${w.url}/metrics`)).status).toBe(200);
    }
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);

    // SIGTERM stops every process cleanly.
    for (const p of [api, ...workers.filter((w) => w !== victim)]) {
      const exited = exitOf(p.child);
      p.child.kill('SIGTERM');
      expect(await exited, `${p.name}:\n${p.output}`).toEqual({ code: 0, signal: null });
    }
    console.log(`scale-out: recovered and finished ${Math.round(recoveredMs / 100) / 10} s after the SIGKILL`);
  }, 180_000);
});
