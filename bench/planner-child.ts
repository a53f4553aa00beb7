// Runs in its own process so that its peak RSS (VmHWM) is the planner's alone, not the seeding's or the
// dump's. Modes:
//   plan <location-json> <runId> <full|reconcile|incremental>
//        plans a run exactly as RunExecutor.plan() does (src/app/run-executor.ts): clearBatches → beginPlan
//        (change mark and the choice of plan; a plan from the changes stages only the changed profiles) →
//        stageDesired (a full reconcile) → recordSkips → packBatches over key-ordered pageAdds / pageRemoves
//        pages of 1,000 → appendBatch → clearStaged → setPlanned. `full` is a scheduled run (from the changes
//        when the acknowledged state allows, src/app/incremental.ts), `reconcile` one asked to reconcile in
//        full, `incremental` a real-time run.
//   ack <location-json> <runId>
//        acknowledges every pending batch of a run through ackBatch and advances the Braze cohort's change
//        position, as after a fully delivered run.
// Prints one line `RESULT {json}` on stdout.
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';
import { beginPlan } from '../src/app/incremental.ts';
import { type PlannedIdentifier, packBatches } from '../src/domain/batching.ts';
import type { Mapping } from '../src/domain/mapping.ts';
import type { RunMode } from '../src/domain/model.ts';
import type { SyncPlanInput } from '../src/ports/store.ts';
import { peakRssMb } from './rss.ts';
import { BENCH_BRAZE_COHORT, BENCH_COHORT, BENCH_PROJECT, BENCH_SYNC } from './seed.ts';

const BENCH_MAPPING: Mapping = { type: 'user_id' };

/** RunExecutor's page size for pageAdds / pageRemoves. */
const PAGE = 1000;
const SKIP_ROWS_KEPT = 100_000; // DEFAULT_SETTINGS.skipRowsKept

export interface PlanResult {
  /** Whether the run planned from the change log (src/app/incremental.ts), and if not, why. */
  readonly incremental: boolean;
  readonly fullPlanReason: string | null;
  readonly seconds: number;
  /** CPU time of this process (user + system), less sensitive than wall time to other load on the machine. */
  readonly cpuSeconds: number;
  readonly phases: Record<string, number>;
  readonly cpuPhases: Record<string, number>;
  readonly adds: number;
  readonly removes: number;
  readonly batches: number;
  readonly skipped: number;
  readonly peakRssMb: number;
  readonly rssAtStartMb: number;
}

export interface AckResult {
  readonly seconds: number;
  readonly batches: number;
  readonly peakRssMb: number;
}

async function plan(location: StoreLocation, runId: string, mode: RunMode, reconcile: boolean): Promise<PlanResult> {
  const rssAtStartMb = peakRssMb();
  const store = await openStore(location, { migrate: false });
  try {
    const { planning, runs } = store;
    const now = new Date().toISOString();
    const run = await runs.create({
      id: runId,
      projectId: BENCH_PROJECT,
      syncId: BENCH_SYNC,
      brazeCohortId: BENCH_BRAZE_COHORT,
      trigger: mode === 'incremental' ? 'real_time' : 'schedule',
      mode,
      now,
      reconcile,
    });
    await runs.start(runId, now);
    const inputs: SyncPlanInput[] = [{ mapping: BENCH_MAPPING, cohortId: BENCH_COHORT, active: true }];
    const cohort = await store.cohorts.get(BENCH_PROJECT, BENCH_COHORT);
    const planInputs = {
      inputs,
      syncs: [{ syncId: BENCH_SYNC, mapping: BENCH_MAPPING, active: true }],
      cohortSize: cohort?.size ?? 0,
    };
    const phases: Record<string, number> = {};
    const cpuPhases: Record<string, number> = {};
    const cpuNow = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    let mark = performance.now();
    let cpuMark = cpuNow();
    const started = mark;
    const cpuStarted = cpuMark;
    const lap = (name: string) => {
      const t = performance.now();
      const c = cpuNow();
      phases[name] = (phases[name] ?? 0) + (t - mark) / 1000;
      cpuPhases[name] = (cpuPhases[name] ?? 0) + (c - cpuMark);
      mark = t;
      cpuMark = c;
    };

    await planning.clearBatches(runId);
    lap('clearBatches');
    const { fromChanges: incremental, reason } = await beginPlan(planning, run, planInputs, {
      now: new Date(),
      fullReconcileHours: 24, // DEFAULT_SETTINGS.fullReconcileHours
    });
    lap('beginPlan');
    if (!incremental) await planning.stageDesired(runId, inputs);
    lap('stageDesired');
    const skipReasons = incremental
      ? await planning.recordSkipsFor(runId, inputs, SKIP_ROWS_KEPT)
      : await planning.recordSkips(runId, inputs, SKIP_ROWS_KEPT);
    lap('recordSkips');
    let adds = 0;
    let removes = 0;
    const pages = (read: (after: string | null) => Promise<PlannedIdentifier[]>, phase: string) =>
      (async function* () {
        let after: string | null = null;
        for (;;) {
          lap('appendBatch');
          const page = await read(after);
          lap(phase);
          yield* page;
          if (page.length < PAGE) return;
          after = page[page.length - 1]!.key;
        }
      })();
    let seq = 0;
    for await (const batch of packBatches(
      pages((after) => planning.pageAdds(runId, BENCH_BRAZE_COHORT, after, PAGE), 'pageAdds'),
      pages(
        (after) =>
          incremental
            ? planning.pageRemovesFor(runId, BENCH_BRAZE_COHORT, inputs, after, PAGE)
            : planning.pageRemoves(runId, BENCH_BRAZE_COHORT, after, PAGE),
        'pageRemoves',
      ),
    )) {
      seq += 1;
      adds += batch.add.length;
      removes += batch.remove.length;
      lap('packBatches');
      await planning.appendBatch(runId, seq, batch);
    }
    lap('appendBatch');
    await planning.clearStaged(runId);
    if (incremental) await planning.clearChangedProfiles(runId);
    lap('clearStaged');
    const skipped = Object.values(skipReasons).reduce((a, b) => a + b, 0);
    await runs.setPlanned(runId, { totalBatches: seq, skipped, skipReasons });
    lap('setPlanned');
    const seconds = (performance.now() - started) / 1000;
    return {
      incremental,
      fullPlanReason: reason,
      seconds,
      cpuSeconds: cpuNow() - cpuStarted,
      phases,
      cpuPhases,
      adds,
      removes,
      batches: seq,
      skipped,
      peakRssMb: peakRssMb(),
      rssAtStartMb,
    };
  } finally {
    await store.close();
  }
}

async function ack(location: StoreLocation, runId: string): Promise<AckResult> {
  const store = await openStore(location, { migrate: false });
  try {
    const started = performance.now();
    let after = 0;
    let batches = 0;
    for (;;) {
      const page = await store.planning.pendingBatches(runId, after, 64);
      for (const b of page) {
        const held = await store.planning.ackBatch({
          runId,
          brazeCohortId: BENCH_BRAZE_COHORT,
          seq: b.seq,
          fence: 0,
          batch: b.batch,
          now: new Date().toISOString(),
          requests: 1,
          retries: 0,
        });
        if (!held) throw new Error('lost the (bench) lease while acknowledging');
        batches += 1;
      }
      if (page.length < 64) break;
      after = page[page.length - 1]!.seq;
    }
    await store.planning.advanceChangeSeq(BENCH_BRAZE_COHORT, runId);
    await store.planning.recordReconciled(BENCH_BRAZE_COHORT, runId);
    await store.runs.finish(runId, 'succeeded', new Date().toISOString(), null);
    return { seconds: (performance.now() - started) / 1000, batches, peakRssMb: peakRssMb() };
  } finally {
    await store.close();
  }
}

const [mode, locationJson, runId, runMode] = process.argv.slice(2);
if (!mode || !locationJson || !runId)
  throw new Error('usage: planner-child.ts plan|ack <location-json> <runId> [full|reconcile|incremental]');
const location = JSON.parse(locationJson) as StoreLocation;
const result =
  mode === 'plan'
    ? await plan(location, runId, runMode === 'incremental' ? 'incremental' : 'full', runMode === 'reconcile')
    : mode === 'ack'
      ? await ack(location, runId)
      : null;
if (!result) throw new Error(`unknown mode ${mode}`);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
