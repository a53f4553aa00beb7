// Real-time syncs keep their lane while a first load saturates the key (docs/deploy.md, "One budget per key"):
// on PostgreSQL, with the shared store limiter and the sandbox enforcing the same small budget, a large full
// run on one Data Import Key is paced at the key's rate, yet a real-time sync of another cohort on the same key
// gets each change through within seconds — its requests take the headroom slots a bulk request never takes —
// while the full run is still sending, and the key's budget holds (no 429).
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { gcraFor } from '../../src/adapters/limiter/store-limiter.ts';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { membershipChanged } from '../../src/app/realtime.ts';
import { createSync } from '../../src/app/syncs.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { membershipCalls, waitUntil } from '../support/waiting.ts';

const postgres = ENGINES.find((e) => e.name === 'postgres');
/** 12 requests per 6 s: a bulk request every 600 ms (burst 2, of which 1 is real-time headroom). */
const BUDGET = { requestsPerHour: 12, budgetWindowMs: 6_000 };
/** The full run's batches: ~15 s of sending at that pace, so it is still sending throughout the checks. */
const BULK_BATCHES = 25;

describe.skipIf(!postgres)('real-time headroom under a saturating first load (PostgreSQL)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('delivers real-time changes within seconds while a full run on the same key uses the whole rate', async () => {
    const g = gcraFor({ requests: BUDGET.requestsPerHour, perMs: BUDGET.budgetWindowMs });
    expect(g.headroom).toBeGreaterThanOrEqual(1);
    h = await startHarness(postgres!, {
      requestsPerHour: BUDGET.requestsPerHour,
      braze: { budgetWindowMs: BUDGET.budgetWindowMs, sharedLimiter: true },
      sandboxBudget: BUDGET,
    });
    const harness = h;
    const project = await projectWithBraze(harness.deps);
    const { target, dataImportKey } = await sandboxTarget(harness, project.id, { type: 'user_id' });

    // The real-time sync first (its own first run is one small request), so the bulk load finds it in place.
    const live = await createStaticCohort(harness.deps, project.id, { name: 'Live' });
    await changeMembers(harness.deps, project.id, live.id, { add: [{ user_id: 'live-0' }] });
    const liveSync = await createSync(harness.deps, project.id, {
      cohortId: live.id,
      targetId: target.id,
      cadence: 'real_time',
    });
    expect((await waitForRun(harness.deps, (await firstRunOf(harness.deps, project.id, liveSync.id)).id)).status).toBe(
      'succeeded',
    );

    // The first load: BULK_BATCHES × 1,000 members, inserted in bulk (the member API is not what is tested).
    const big = await createStaticCohort(harness.deps, project.id, { name: 'First load' });
    const db = harness.store.raw.db;
    const now = new Date().toISOString();
    await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
      select ${project.id}, 'bulk-' || i, '{}', ${now}, ${now} from generate_series(1, ${BULK_BATCHES * 1000}::int) i`.execute(
      db,
    );
    await sql`insert into cohort_members (cohort_id, profile_id)
      select ${big.id}, id from profiles where project_id = ${project.id} and user_id like 'bulk-%'`.execute(db);
    await sql`update cohorts set size = ${BULK_BATCHES * 1000} where id = ${big.id}`.execute(db);
    const bigSync = await createSync(harness.deps, project.id, {
      cohortId: big.id,
      targetId: target.id,
      cadence: 'one_time',
    });
    const bigRun = await firstRunOf(harness.deps, project.id, bigSync.id);
    const bulkRequests = () => membershipCalls(harness.sandbox.state.requests()).filter((c) => c.add.length === 1000);
    // Saturated: the bulk run has sent a few batches and is being paced.
    await waitUntil('the first load sending', () => bulkRequests().length >= 3, 20_000);

    const onChanged = membershipChanged(harness.deps);
    const inBraze = () => harness.sandbox.state.cohortIdentifiers(dataImportKey, live.id).user_ids;
    const delays: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const start = performance.now();
      await changeMembers(harness.deps, project.id, live.id, { add: [{ user_id: `live-${i}` }] }, onChanged);
      await waitUntil(`live-${i} in Braze`, () => inBraze().includes(`live-${i}`), 10_000);
      delays.push(performance.now() - start);
    }
    // Each change arrived within seconds, with the first load still sending (it needs ~15 s at the key's pace).
    for (const d of delays)
      expect(d, `change-to-Braze delays ${delays.map(Math.round).join(', ')} ms`).toBeLessThan(4_000);
    expect((await harness.store.runs.getById(bigRun.id))?.status).toBe('running');
    expect(bulkRequests().length).toBeLessThan(BULK_BATCHES);

    const finished = await waitForRun(harness.deps, bigRun.id, 45_000);
    expect(finished.status).toBe('succeeded');
    expect(finished.counts.added).toBe(BULK_BATCHES * 1000);
    expect(inBraze().sort()).toEqual(['live-0', 'live-1', 'live-2', 'live-3']);
    // One budget on the key: the limiter's pacing kept both syncs under what the sandbox enforces.
    expect(harness.sandbox.state.stats().byStatus['429'] ?? 0).toBe(0);
    const incremental = (await harness.store.runs.list(project.id, { syncId: liveSync.id }, 100, null)).items.filter(
      (r) => r.mode === 'incremental',
    );
    expect(incremental.length).toBeGreaterThanOrEqual(1);
    expect(incremental.every((r) => r.status === 'succeeded')).toBe(true);
  }, 60_000);
});
