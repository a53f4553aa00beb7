// The planner bench: for each cohort size, seed a store in bulk with 1% churn against Braze and plan it in
// full (the first plan, a full reconcile), acknowledge that plan, then churn 1% of the members through the
// member API (half leave, half join: what a day brings a large cohort) and, on that same state, time
//   - what a scheduled run does now: it plans from the change log (src/app/incremental.ts),
//   - a full reconcile (`reconcile: true`, `--full`): every member re-staged,
//   - `LC_ALL=C sort | comm -3` of the same ids, the baseline;
// each plan in a child process (time, CPU, peak RSS). Then that plan is acknowledged, 100 members change and a
// real-time run plans (the incremental path stays O(changes)).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';
import { type BaselineResult, dumpIdentifiers, runBaseline } from './baseline.ts';
import type { AckResult, PlanResult } from './planner-child.ts';
import { BENCH_COHORT, BENCH_PROJECT, CHURN_EVERY, type SeedResult, seedStore } from './seed.ts';
import { throwawayStore } from './throwaway-store.ts';

export interface PlannerBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  readonly databaseUrl?: string;
  readonly baseline: boolean;
  readonly incremental: boolean;
  /** Members changed between the acknowledged full plan and the incremental plan (half leave, half join). */
  readonly changes: number;
  /** Fraction of the cohort churned before the scheduled plan (half leave, half join); default 0.01. */
  readonly churn: number;
  readonly keep: boolean;
  readonly log: (line: string) => void;
}

export interface PlannerSizeResult {
  readonly engine: 'sqlite' | 'postgres';
  readonly members: number;
  readonly seed: SeedResult;
  readonly storeMb: number | null;
  /** The first plan, of the seeded 1%-churn state: a full reconcile (no plan basis yet). */
  readonly first: PlanResult;
  /** After `first` was acknowledged and `churned` members changed through the member API. */
  readonly churned: number;
  readonly churnSeconds: number;
  readonly dumpSeconds: number | null;
  readonly baseline: BaselineResult | null;
  /** What a scheduled run does now (from the change log), then a full reconcile, of the same state. */
  readonly scheduled: PlanResult;
  readonly reconcile: PlanResult;
  /** Load average (1 min) before each measurement, in order: first, baseline, scheduled, reconcile. */
  readonly load: Record<string, number>;
  /** After the scheduled plan is acknowledged and `changes` members change: a real-time (incremental) run. */
  readonly incremental: {
    readonly changes: number;
    readonly ack: AckResult;
    readonly realtime: PlanResult;
  } | null;
}

const CHILD = fileURLToPath(new URL('./planner-child.ts', import.meta.url));

function runChild<T>(
  mode: 'plan' | 'ack',
  location: StoreLocation,
  runId: string,
  runMode: 'full' | 'reconcile' | 'incremental' = 'full',
): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode, JSON.stringify(location), runId, runMode], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`planner child (${mode}) failed with status ${r.status}: ${r.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

function sqliteSizeMb(dir: string): number {
  return (
    readdirSync(dir)
      .filter((f) => f.startsWith('store.db'))
      .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0) /
    (1024 * 1024)
  );
}

/** seed.ts's user_id of profile i. */
const benchUserId = (i: number) => `usr_${String((BigInt(i) * 2654435761n) % 4294967296n).padStart(10, '0')}`;

/**
 * Half of `changes` members leave the cohort and as many new users join, through the real membership API
 * (so the change log holds them, as it would). Leavers are spread over the profile ids and were all in Braze.
 */
async function changeMembers(
  location: StoreLocation,
  members: number,
  changes: number,
  tag: string,
  offset: number,
): Promise<void> {
  const store = await openStore(location, { migrate: false });
  try {
    const leaving = Math.floor(changes / 2);
    const joining = changes - leaving;
    const stride = Math.max(1, Math.floor(members / Math.max(1, leaving)));
    const out: { user_id: string }[] = [];
    for (let i = offset; out.length < leaving && i <= members; i += stride)
      if (i % CHURN_EVERY !== 0) out.push({ user_id: benchUserId(i) });
    const now = new Date().toISOString();
    const CHUNK = 5000;
    for (let i = 0; i < out.length; i += CHUNK)
      await store.membership.applyMembers(BENCH_PROJECT, BENCH_COHORT, 'remove', out.slice(i, i + CHUNK), now);
    for (let i = 0; i < joining; i += CHUNK) {
      const fresh = Array.from({ length: Math.min(CHUNK, joining - i) }, (_, j) => ({
        user_id: `usr_${tag}_${String(i + j).padStart(8, '0')}`,
      }));
      await store.membership.applyMembers(BENCH_PROJECT, BENCH_COHORT, 'add', fresh, now);
    }
    if (out.length !== leaving) throw new Error(`only ${out.length} of ${leaving} leavers found`);
  } finally {
    await store.close();
  }
}

const load1 = () => Number(loadavg()[0]!.toFixed(2));

export async function benchPlannerSize(members: number, opts: PlannerBenchOptions): Promise<PlannerSizeResult> {
  const { log } = opts;
  const tag = `[planner ${opts.engine} ${members}]`;
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-bench-'));
  const { location, drop } = await throwawayStore(opts.engine, opts.databaseUrl, { prefix: 'bench', dir });
  const load: Record<string, number> = {};
  const expect = (p: PlanResult, what: string, adds: number, removes: number, fromChanges: boolean) => {
    if (p.adds !== adds || p.removes !== removes)
      throw new Error(`${what} found +${p.adds} -${p.removes}, expected +${adds} -${removes}`);
    if (p.incremental !== fromChanges)
      throw new Error(`${what} planned ${p.incremental ? 'from the changes' : 'in full'}, expected otherwise`);
  };
  try {
    log(`${tag} seeding ${members} members, 1% churn (${dir})`);
    const seed = await seedStore(location, members);
    const storeMb = opts.engine === 'sqlite' ? sqliteSizeMb(dir) : null;
    log(`${tag} seeded in ${seed.seconds.toFixed(1)} s${storeMb === null ? '' : `, store ${storeMb.toFixed(0)} MB`}`);

    load.first = load1();
    const first = runChild<PlanResult>('plan', location, 'run_first00000000000');
    log(`${tag} first plan (full reconcile): ${fmtPlan(first)}`);
    expect(first, 'the first plan', seed.expectedAdds, seed.expectedRemoves, false);
    runChild<AckResult>('ack', location, 'run_first00000000000');

    // A day's churn: half leave, half join, logged as the member API logs every change.
    const churned = 2 * Math.floor((members * opts.churn) / 2);
    const churnStarted = performance.now();
    await changeMembers(location, members, churned, 'day', 3);
    const churnSeconds = (performance.now() - churnStarted) / 1000;
    log(`${tag} churned ${churned} members through the member API in ${churnSeconds.toFixed(1)} s`);

    let baseline: BaselineResult | null = null;
    let dumpSeconds: number | null = null;
    if (opts.baseline) {
      const dumped = await dumpIdentifiers(location, dir);
      dumpSeconds = dumped.seconds;
      load.baseline = load1();
      baseline = runBaseline(dumped, dir);
      rmSync(dumped.desired);
      rmSync(dumped.acked);
      log(
        `${tag} baseline sort|comm: ${baseline.seconds.toFixed(2)} s (CPU ${baseline.cpuSeconds?.toFixed(2)} s, peak RSS ${baseline.peakRssMb?.toFixed(0)} MB), ${baseline.deltaLines} lines (dump ${dumped.seconds.toFixed(1)} s)`,
      );
      if (baseline.deltaLines !== churned)
        throw new Error(`baseline found ${baseline.deltaLines} differences, expected ${churned}`);
    }

    load.scheduled = load1();
    const scheduled = runChild<PlanResult>('plan', location, 'run_sched00000000000', 'full');
    log(`${tag} scheduled run after ${churned} changes: ${fmtPlan(scheduled)}`);
    expect(scheduled, 'the scheduled plan', churned / 2, churned / 2, true);
    load.reconcile = load1();
    const reconcile = runChild<PlanResult>('plan', location, 'run_recon00000000000', 'reconcile');
    log(`${tag} full reconcile of the same state: ${fmtPlan(reconcile)}`);
    expect(reconcile, 'the full reconcile', churned / 2, churned / 2, false);
    if (baseline)
      log(
        `${tag} scheduled / baseline = ${(scheduled.seconds / baseline.seconds).toFixed(2)} (CPU ${baseline.cpuSeconds ? (scheduled.cpuSeconds / baseline.cpuSeconds).toFixed(2) : '–'}), reconcile / baseline = ${(reconcile.seconds / baseline.seconds).toFixed(2)}`,
      );

    let incremental: PlannerSizeResult['incremental'] = null;
    if (opts.incremental) {
      const ack = runChild<AckResult>('ack', location, 'run_sched00000000000');
      await changeMembers(location, members, opts.changes, 'rt', 7);
      const realtime = runChild<PlanResult>('plan', location, 'run_rtime00000000000', 'incremental');
      log(`${tag} real-time run after ${opts.changes} changes: ${fmtPlan(realtime)}`);
      const half = Math.floor(opts.changes / 2);
      expect(realtime, 'the real-time plan', opts.changes - half, half, true);
      incremental = { changes: opts.changes, ack, realtime };
    }
    return {
      engine: opts.engine,
      members,
      seed,
      storeMb,
      first,
      churned,
      churnSeconds,
      dumpSeconds,
      baseline,
      scheduled,
      reconcile,
      load,
      incremental,
    };
  } finally {
    await drop();
    if (opts.keep) log(`[planner] kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const fmtPlan = (p: PlanResult) =>
  `${p.seconds.toFixed(3)} s (CPU ${p.cpuSeconds.toFixed(3)} s, ${p.incremental ? 'from the changes' : `every member re-staged: ${p.fullPlanReason}`}), peak RSS ${p.peakRssMb.toFixed(0)} MB, +${p.adds} -${p.removes} in ${p.batches} batches; ${fmtPhases(p.phases)}`;

export const fmtPhases = (phases: Record<string, number>) =>
  Object.entries(phases)
    .filter(([, s]) => s >= 0.0005)
    .map(([k, s]) => `${k} ${s.toFixed(3)}`)
    .join(', ');
