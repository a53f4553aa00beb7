// The scheduler against the real store (SQLite, and PostgreSQL when configured), the real Braze client and
// the sandbox over HTTP. Two "processes" (two composed services with their own connections to one store)
// tick at once to show a due run is requested exactly once.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createScheduler, nextRunFor } from '../../src/app/scheduler.ts';
import { updateSync } from '../../src/app/sync-admin.ts';
import { createSync } from '../../src/app/syncs.ts';
import { createTarget } from '../../src/app/targets.ts';
import { startWorker, type Worker } from '../../src/app/worker.ts';
import type { Cadence, Sync } from '../../src/domain/model.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, waitForRun } from '../support/flows.ts';
import { ManualClock, membershipCalls, waitUntil } from '../support/waiting.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(ENGINES)('scheduler on $name', (engine) => {
  let sandbox: RunningSandbox;
  let a: Composed;
  let b: Composed;
  let worker: Worker;
  let drop: () => Promise<void>;

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    const fresh = await engine.fresh();
    drop = fresh.drop;
    const options = {
      store: fresh.location,
      secretKey: randomBytes(32),
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      braze: {
        partnerSlug: 'cohort-sync',
        partnerKeys: { US: 'sandbox-partner-key' },
        requestsPerHour: 250_000,
        retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 6 },
        requestTimeoutMs: 5_000,
      },
      settings: { allowedEndpoints: [sandbox.url], leaseTtlMs: 5_000 },
    };
    a = await compose(options);
    b = await compose(options); // a second process on the same store
    worker = await startWorker(a.deps, { owner: a.owner, sweepEveryMs: 200 });
  });
  afterEach(async () => {
    await worker?.stop();
    await a?.store.close();
    await b?.store.close();
    await sandbox?.close();
    await drop?.();
  });

  /** A project with a sandbox target and `n` cohorts of one member, each with a sync of `cadence` whose first run is done. */
  async function syncs(
    n: number,
    cadence: Cadence,
    cron?: string,
  ): Promise<{ projectId: string; dataImportKey: string; syncs: Sync[] }> {
    const project = await projectWithBraze(a.deps);
    const dataImportKey = sandbox.state.createWorkspace();
    const target = await createTarget(a.deps, project.id, {
      name: 'main',
      endpoint: sandbox.url,
      dataImportKey,
      mapping: { type: 'user_id' },
    });
    const out: Sync[] = [];
    for (let i = 0; i < n; i++) {
      const cohort = await createStaticCohort(a.deps, project.id, { name: `c${i}` });
      await changeMembers(a.deps, project.id, cohort.id, { add: [{ user_id: `u${i}` }] });
      out.push(
        await createSync(a.deps, project.id, {
          cohortId: cohort.id,
          targetId: target.id,
          cadence,
          ...(cron ? { cron } : {}),
        }),
      );
    }
    for (const s of out)
      expect((await waitForRun(a.deps, (await firstRunOf(a.deps, project.id, s.id)).id)).status).toBe('succeeded');
    await a.queue.idle();
    sandbox.state.clearRequests();
    return { projectId: project.id, dataImportKey, syncs: out };
  }

  const withClock = (deps: AppDeps, clock: ManualClock, settings: Partial<AppDeps['settings']> = {}): AppDeps => ({
    ...deps,
    clock,
    settings: { ...deps.settings, ...settings },
  });
  const runsOf = async (s: Sync) => (await a.store.runs.list(s.projectId, { syncId: s.id }, 100, null)).items;

  it('requests due runs and stores each sync’s next time', async () => {
    const hourly = await syncs(2, 'hourly');
    const daily = await syncs(1, 'daily');
    const cron = await syncs(1, 'cron', '*/10 * * * *');
    const all = [...hourly.syncs, ...daily.syncs, ...cron.syncs];
    const clock = new ManualClock();
    const scheduler = createScheduler(withClock(a.deps, clock));
    // Nothing is due right after creation: the first run went out already and next times are in the future.
    for (const s of all) expect(Date.parse(s.nextRunAt!)).toBeGreaterThan(Date.now());
    expect((await scheduler.tick()).requested).toEqual([]);

    // One day later every sync is due, once.
    clock.advance(DAY + 60_000);
    const tick = await scheduler.tick();
    expect(tick.requested.map((r) => r.syncId).sort()).toEqual(all.map((s) => s.id).sort());
    for (const s of all) {
      const stored = await a.store.syncs.getById(s.id);
      const expected = nextRunFor(a.deps.settings, s, clock.now())!;
      expect(stored?.nextRunAt).toBe(expected.toISOString());
      expect(expected.getTime()).toBeGreaterThan(clock.now().getTime());
    }
    for (const r of tick.requested) {
      const run = await waitForRun(a.deps, r.runId);
      expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule', mode: 'full' });
    }
    // Missed periods collapse: a second tick at the same time finds nothing due.
    expect((await scheduler.tick()).requested).toEqual([]);
  });

  it('leaves one-time syncs alone after their first run', async () => {
    const {
      syncs: [once],
    } = await syncs(1, 'one_time');
    expect(once!.nextRunAt).toBeNull();
    const clock = new ManualClock(Date.now() + 400 * DAY);
    const scheduler = createScheduler(withClock(a.deps, clock, { runHistoryDays: 3650 }));
    expect((await scheduler.tick()).requested).toEqual([]);
    // A one-time sync given a time (e.g. re-scheduled) runs once at it, and then has none.
    await a.store.syncs.update(
      once!.projectId,
      once!.id,
      { nextRunAt: new Date(clock.now().getTime() - 1000).toISOString() },
      new Date().toISOString(),
    );
    const tick = await scheduler.tick();
    expect(tick.requested).toEqual([{ syncId: once!.id, runId: expect.any(String), next: null }]);
    expect((await a.store.syncs.getById(once!.id))?.nextRunAt).toBeNull();
    clock.advance(400 * DAY);
    expect((await scheduler.tick()).requested).toEqual([]);
    expect((await runsOf(once!)).length).toBe(2);
  });

  it('never requests a due run twice when two schedulers tick at once', async () => {
    const { syncs: due } = await syncs(12, 'hourly');
    const past = new Date(Date.now() - 60_000).toISOString();
    // No run may hold a write transaction meanwhile: better-sqlite3 waits for a lock synchronously, which
    // would stall this one process hosting both "processes" (separate processes each have their own loop).
    await worker.stop();
    const clock = new ManualClock();
    const first = createScheduler(withClock(a.deps, clock));
    const second = createScheduler(withClock(b.deps, clock));
    // Their daily pruning (a transaction) happens on the first tick; get it out of the way one at a time.
    await first.tick();
    await second.tick();
    for (const s of due) await a.store.syncs.update(s.projectId, s.id, { nextRunAt: past }, past);
    const [x, y] = await Promise.all([first.tick(), second.tick()]);
    worker = await startWorker(a.deps, { owner: a.owner, sweepEveryMs: 200 }); // picks up the queued runs
    const fromX = x.requested.map((r) => r.syncId);
    const fromY = y.requested.map((r) => r.syncId);
    expect(fromX.filter((id) => fromY.includes(id))).toEqual([]);
    expect([...fromX, ...fromY].sort()).toEqual(due.map((s) => s.id).sort());
    for (const r of [...x.requested, ...y.requested]) await waitForRun(a.deps, r.runId);
    for (const s of due) {
      const runs = await runsOf(s);
      expect(runs.filter((r) => r.trigger === 'schedule')).toHaveLength(2); // the first run and this one
      expect((await a.store.syncs.getById(s.id))?.nextRunAt).toBe(
        nextRunFor(a.deps.settings, s, clock.now())!.toISOString(),
      );
    }
  });

  it('sends nothing for a paused sync; resuming computes a new time', async () => {
    const {
      syncs: [s],
    } = await syncs(1, 'hourly');
    const paused = await a.store.syncs.update(
      s!.projectId,
      s!.id,
      { paused: true, nextRunAt: new Date(Date.now() - 1000).toISOString() },
      new Date().toISOString(),
    );
    sandbox.state.clearRequests();
    const scheduler = createScheduler(a.deps);
    expect((await scheduler.tick()).requested).toEqual([]);
    await a.queue.idle();
    expect(sandbox.state.requests()).toEqual([]);
    expect((await runsOf(s!)).length).toBe(1);
    expect((await a.store.syncs.getById(s!.id))?.nextRunAt).toBe(paused!.nextRunAt);

    const resumed = await updateSync(a.deps, s!.projectId, s!.id, { paused: false });
    expect(Date.parse(resumed.nextRunAt!)).toBeGreaterThan(Date.now());
    expect((await scheduler.tick()).requested).toEqual([]);
  });

  it('folds runs that fall due while one is running into one queued run', async () => {
    const {
      syncs: [s],
      dataImportKey,
    } = await syncs(1, 'hourly');
    const cohortId = s!.cohortId;
    await changeMembers(a.deps, s!.projectId, cohortId, { add: [{ user_id: 'late' }] });
    // Make Braze slow, and have a run in progress.
    sandbox.state.injectFaults([{ latencyMs: 1_500, path: 'users' }]);
    const clock = new ManualClock(Date.parse(s!.nextRunAt!) + 1_000);
    const scheduler = createScheduler(withClock(a.deps, clock));
    const t1 = await scheduler.tick();
    expect(t1.requested).toHaveLength(1);
    await waitUntil(
      'the scheduled run to be sending',
      async () => (await a.store.runs.getById(t1.requested[0]!.runId))?.phase === 'sending',
    );
    await changeMembers(a.deps, s!.projectId, cohortId, { add: [{ user_id: 'later' }] });

    // Two more periods pass while it runs: both requests fold into one queued run.
    clock.advance(HOUR);
    const t2 = await scheduler.tick();
    clock.advance(HOUR);
    const t3 = await scheduler.tick();
    expect(t2.requested).toHaveLength(1);
    expect(t3.requested).toHaveLength(1);
    expect(t3.requested[0]!.runId).toBe(t2.requested[0]!.runId);
    expect(t2.requested[0]!.runId).not.toBe(t1.requested[0]!.runId);
    const queued = await waitForRun(a.deps, t3.requested[0]!.runId);
    await a.queue.idle();
    expect(queued.counts.added).toBe(1);
    expect((await runsOf(s!)).length).toBe(3); // first run, the slow one, the folded one
    expect(sandbox.state.cohortIdentifiers(dataImportKey, cohortId).user_ids.sort()).toEqual(['late', 'later', 'u0']);
    expect(
      membershipCalls(sandbox.state.requests())
        .flatMap((c) => c.add)
        .sort(),
    ).toEqual(['e:late', 'e:later']);
  });

  it('prunes old run history and the change log no Braze cohort needs, once a day', async () => {
    const {
      syncs: [s],
    } = await syncs(1, 'hourly');
    const db = a.store.raw.db;
    // A project whose membership changes nobody syncs.
    const lonely = await projectWithBraze(a.deps, 'no syncs');
    const unsynced = await createStaticCohort(a.deps, lonely.id, { name: 'nobody syncs me' });
    await changeMembers(a.deps, lonely.id, unsynced.id, { add: [{ user_id: 'x' }, { user_id: 'y' }] });
    // Changes after the first run: the Braze cohort still needs them.
    const changeSeq = Number(
      (
        await db
          .selectFrom('braze_cohorts')
          .select('change_seq')
          .where('id', '=', s!.audienceRef)
          .executeTakeFirstOrThrow()
      ).change_seq,
    );
    expect(changeSeq).toBeGreaterThan(0);
    await changeMembers(a.deps, s!.projectId, s!.cohortId, { add: [{ user_id: 'pending' }] });
    const changes = async (projectId: string) =>
      (await db.selectFrom('member_changes').select('seq').where('project_id', '=', projectId).execute()).map((r) =>
        Number(r.seq),
      );
    expect((await changes(s!.projectId)).some((seq) => seq <= changeSeq)).toBe(true);
    expect(await changes(lonely.id)).toHaveLength(2);

    const first = (await runsOf(s!))[0]!;
    const batchesOf = async (runId: string) =>
      Number(
        (await sql<{ n: number }>`select count(*) as n from run_batches where run_id = ${runId}`.execute(db)).rows[0]!
          .n,
      );
    expect(await batchesOf(first.id)).toBeGreaterThan(0);
    // 31 days later the first run is past the 30-day history; a run finished yesterday is not.
    const clock = new ManualClock(Date.now() + 31 * DAY);
    const recent = await a.store.runs.create({
      id: 'run_recent',
      projectId: s!.projectId,
      syncId: s!.id,
      brazeCohortId: s!.audienceRef,
      trigger: 'manual',
      mode: 'full',
      now: new Date(clock.now().getTime() - DAY).toISOString(),
    });
    await a.store.runs.finish(recent.id, 'cancelled', new Date(clock.now().getTime() - DAY).toISOString());
    await a.store.syncs.update(
      s!.projectId,
      s!.id,
      { nextRunAt: new Date(clock.now().getTime() + HOUR).toISOString() },
      new Date().toISOString(),
    );

    const consumed = (await changes(s!.projectId)).filter((seq) => seq <= changeSeq).length;
    const scheduler = createScheduler(withClock(a.deps, clock));
    const tick = await scheduler.tick();
    expect(tick.pruned).toEqual({ runs: 1, changes: 2 + consumed });
    expect(await a.store.runs.getById(first.id)).toBeUndefined();
    expect(await batchesOf(first.id)).toBe(0);
    expect(await a.store.runs.getById(recent.id)).toBeDefined();
    expect(await changes(lonely.id)).toEqual([]);
    const left = await changes(s!.projectId);
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((seq) => seq > changeSeq)).toBe(true);

    // Not again the same day; again a day later.
    clock.advance(HOUR);
    expect((await scheduler.tick()).pruned).toBeNull();
    clock.advance(DAY);
    expect((await scheduler.tick()).pruned).toEqual({ runs: 0, changes: 0 });
  });
});
