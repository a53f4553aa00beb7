// The planner bench: for each cohort size, seed a store in bulk, difference the same ids with
// `sort | comm -3`, plan in a child process (time and peak RSS), then acknowledge the plan, change 100
// members and plan again (the "incremental" case).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';
import { type BaselineResult, dumpIdentifiers, runBaseline } from './baseline.ts';
import type { AckResult, PlanResult } from './planner-child.ts';
import { BENCH_COHORT, BENCH_PROJECT, type SeedResult, seedStore } from './seed.ts';
import { throwawayStore } from './throwaway-store.ts';

export interface PlannerBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  readonly databaseUrl?: string;
  readonly baseline: boolean;
  readonly incremental: boolean;
  /** Members changed between the acknowledged full plan and the incremental plan (half leave, half join). */
  readonly changes: number;
  readonly keep: boolean;
  readonly log: (line: string) => void;
}

export interface PlannerSizeResult {
  readonly engine: 'sqlite' | 'postgres';
  readonly members: number;
  readonly seed: SeedResult;
  readonly storeMb: number | null;
  readonly dumpSeconds: number | null;
  readonly baseline: BaselineResult | null;
  readonly full: PlanResult;
  /** After the full plan is acknowledged and `changes` members change: a full run's plan, then a real-time (incremental) run's. */
  readonly incremental: {
    readonly changes: number;
    readonly ack: AckResult;
    readonly plan: PlanResult;
    readonly realtime: PlanResult;
  } | null;
}

const CHILD = fileURLToPath(new URL('./planner-child.ts', import.meta.url));

function runChild<T>(
  mode: 'plan' | 'ack',
  location: StoreLocation,
  runId: string,
  runMode: 'full' | 'incremental' = 'full',
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

/** Half of `changes` members leave the cohort and as many new users join, through the real membership API. */
async function changeMembers(location: StoreLocation, changes: number): Promise<void> {
  const store = await openStore(location, { migrate: false });
  try {
    const leaving = Math.floor(changes / 2);
    const joining = changes - leaving;
    const page = await store.membership.listMembers(BENCH_COHORT, leaving * 7, null);
    // Members spread over the first page, skipping those not yet in Braze (they would make no remove).
    const out = page.items
      .filter((m) => m.id % 200 !== 0)
      .filter((_, i) => i % 7 === 3)
      .slice(0, leaving);
    const now = new Date().toISOString();
    await store.membership.applyMembers(
      BENCH_PROJECT,
      BENCH_COHORT,
      'remove',
      out.map((m) => ({ user_id: m.userId! })),
      now,
    );
    const fresh = Array.from({ length: joining }, (_, i) => ({ user_id: `usr_new_${String(i).padStart(6, '0')}` }));
    await store.membership.applyMembers(BENCH_PROJECT, BENCH_COHORT, 'add', fresh, now);
  } finally {
    await store.close();
  }
}

export async function benchPlannerSize(members: number, opts: PlannerBenchOptions): Promise<PlannerSizeResult> {
  const { log } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-bench-'));
  const { location, drop } = await throwawayStore(opts.engine, opts.databaseUrl, { prefix: 'bench', dir });
  try {
    log(`[planner ${opts.engine} ${members}] seeding ${members} members, 1% churn (${dir})`);
    const seed = await seedStore(location, members);
    const storeMb = opts.engine === 'sqlite' ? sqliteSizeMb(dir) : null;
    log(
      `[planner ${opts.engine} ${members}] seeded in ${seed.seconds.toFixed(1)} s${storeMb === null ? '' : `, store ${storeMb.toFixed(0)} MB`}`,
    );

    let baseline: BaselineResult | null = null;
    let dumpSeconds: number | null = null;
    if (opts.baseline) {
      const dumped = await dumpIdentifiers(location, dir);
      dumpSeconds = dumped.seconds;
      baseline = runBaseline(dumped, dir);
      rmSync(dumped.desired);
      rmSync(dumped.acked);
      log(
        `[planner ${opts.engine} ${members}] baseline sort|comm: ${baseline.seconds.toFixed(2)} s, ${baseline.deltaLines} lines (dump ${dumped.seconds.toFixed(1)} s)`,
      );
    }

    const full = runChild<PlanResult>('plan', location, 'run_full000000000000');
    log(
      `[planner ${opts.engine} ${members}] full plan: ${full.seconds.toFixed(2)} s (CPU ${full.cpuSeconds.toFixed(2)} s), peak RSS ${full.peakRssMb.toFixed(0)} MB, +${full.adds} -${full.removes} in ${full.batches} batches; ${fmtPhases(full.phases)}; CPU: ${fmtPhases(full.cpuPhases)}`,
    );
    if (full.adds !== seed.expectedAdds || full.removes !== seed.expectedRemoves) {
      throw new Error(
        `planner found +${full.adds} -${full.removes}, expected +${seed.expectedAdds} -${seed.expectedRemoves}`,
      );
    }
    if (baseline && baseline.deltaLines !== full.adds + full.removes) {
      throw new Error(`baseline found ${baseline.deltaLines} differences, the planner ${full.adds + full.removes}`);
    }

    let incremental: PlannerSizeResult['incremental'] = null;
    if (opts.incremental) {
      const ack = runChild<AckResult>('ack', location, 'run_full000000000000');
      await changeMembers(location, opts.changes);
      // The same state planned twice: by a full run (scheduled syncs), then by a real-time run's incremental path.
      const plan = runChild<PlanResult>('plan', location, 'run_next000000000000', 'full');
      log(
        `[planner ${opts.engine} ${members}] full plan after ${opts.changes} changes: ${plan.seconds.toFixed(2)} s (CPU ${plan.cpuSeconds.toFixed(2)} s), peak RSS ${plan.peakRssMb.toFixed(0)} MB, +${plan.adds} -${plan.removes}; ${fmtPhases(plan.phases)}`,
      );
      const realtime = runChild<PlanResult>('plan', location, 'run_rtim000000000000', 'incremental');
      log(
        `[planner ${opts.engine} ${members}] incremental plan after ${opts.changes} changes: ${realtime.seconds.toFixed(3)} s (CPU ${realtime.cpuSeconds.toFixed(3)} s, incremental path: ${realtime.incremental}), peak RSS ${realtime.peakRssMb.toFixed(0)} MB, +${realtime.adds} -${realtime.removes}; ${fmtPhases(realtime.phases)}`,
      );
      const half = Math.floor(opts.changes / 2);
      for (const p of [plan, realtime]) {
        if (p.adds !== opts.changes - half || p.removes !== half)
          throw new Error(`plan after changes found +${p.adds} -${p.removes}`);
      }
      incremental = { changes: opts.changes, ack, plan, realtime };
    }
    return { engine: opts.engine, members, seed, storeMb, dumpSeconds, baseline, full, incremental };
  } finally {
    await drop();
    if (opts.keep) log(`[planner] kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

export const fmtPhases = (phases: Record<string, number>) =>
  Object.entries(phases)
    .filter(([, s]) => s >= 0.0005)
    .map(([k, s]) => `${k} ${s.toFixed(3)}`)
    .join(', ');
