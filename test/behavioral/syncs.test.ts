// Behavioral cohorts carried into Braze (the sandbox over HTTP, a real worker): a real-time sync follows
// ingested events within seconds and removes a user whose qualifying events aged out with no new event; a
// one-time sync plans from a fresh full evaluation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCohort } from '../../src/app/cohort-admin.ts';
import { createSync, requestRun } from '../../src/app/syncs.ts';
import { insertEvent, insertProfile } from '../support/behavioral.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, sorted, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { waitUntil } from '../support/waiting.ts';

describe.each(ENGINES)('behavioral cohorts synced to Braze on $name', (engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(engine, { settings: { realtimeGatherMs: 50 } });
  });
  afterEach(async () => {
    await h?.behavioral.stop();
    await h?.close();
  });

  async function setup(cadence: 'real_time' | 'one_time', definition: unknown) {
    const project = await projectWithBraze(h.deps);
    const { target, dataImportKey } = await sandboxTarget(h, project.id, { type: 'user_id' });
    const db = h.store.raw.db;
    const profile = (userId: string, properties: Record<string, unknown>) =>
      insertProfile(db, project.id, userId, properties, new Date().toISOString());
    const event = async (profileId: number, type: string, timeMs: number) => {
      await insertEvent(db, project.id, { profileId, type, timeMs });
      h.behavioral.onIngested({ projectId: project.id, profileIds: [profileId] });
    };
    const cohort = await createCohort(h.deps, project.id, { name: 'Live buyers', type: 'behavioral', definition });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence });
    expect((await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id)).status).toBe('succeeded');
    await h.queue.idle();
    const inBraze = () => sorted(h.sandbox.state.cohortIdentifiers(dataImportKey, cohort.id).user_ids);
    return { project, cohort, sync, profile, event, inBraze, db };
  }

  it('a real-time sync follows ingested events, and a window that moves on removes the user', async () => {
    const s = await setup('real_time', {
      all: [{ any: [{ event: 'Purchase', within: { last: 2, unit: 'minute' } }] }],
    });
    const ann = await s.profile('ann', {});
    const bob = await s.profile('bob', {});
    // ann's purchase is 118.5 s old: inside the 2-minute window for 1.5 s more.
    const now = Date.now();
    await s.event(ann, 'Purchase', now - 118_500);
    await s.event(bob, 'Purchase', now);
    await h.behavioral.idle();
    await waitUntil('ann and bob in Braze', () => s.inBraze().length === 2, 15_000);
    expect(s.inBraze()).toEqual(['ann', 'bob']);
    // No new event: the sweeper alone takes ann out.
    await new Promise((r) => setTimeout(r, Math.max(0, now + 1_600 - Date.now())));
    await h.behavioral.sweep();
    await waitUntil('ann removed from Braze', () => s.inBraze().length === 1, 15_000);
    expect(s.inBraze()).toEqual(['bob']);
  });

  it('a one-time sync plans from a fresh full evaluation', async () => {
    const s = await setup('one_time', { all: [{ any: [{ userProperty: 'plan', op: 'eq', value: 'pro' }] }] });
    await s.profile('ann', { plan: 'pro' });
    await s.profile('bob', { plan: 'free' });
    expect(s.inBraze()).toEqual([]);
    // Nobody told the evaluator: the run evaluates before it plans.
    const run = await requestRun(h.deps, s.sync, 'manual');
    expect((await waitForRun(h.deps, run.id)).status).toBe('succeeded');
    expect(s.inBraze()).toEqual(['ann']);
    expect((await h.deps.store.cohorts.get(s.project.id, s.cohort.id))?.size).toBe(1);
  });
});
