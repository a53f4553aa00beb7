import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import { ENGINES } from '../support/engines.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, sorted, waitForRun } from '../support/flows.ts';

describe.each(ENGINES)('sync engine on $name', (engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(engine);
  });
  afterEach(async () => {
    await h?.close();
  });

  it('sends every member on the first run, then only the changes', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, dataImportKey } = await sandboxTarget(h, project.id, { type: 'user_id' });
    h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'u1' }, { external_id: 'u2' }, { external_id: 'u3' }]);
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Buyers' });
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u1' }, { user_id: 'u2' }, { device_id: 'anon-device-1' }] });

    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'one_time' });
    const first = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(first.status).toBe('succeeded');
    expect(first.counts).toEqual({ added: 2, removed: 0, skipped: 1, failed: 0 });
    expect(first.skipReasons).toEqual({ no_user_id: 1 });
    expect(sorted(h.sandbox.state.cohortIdentifiers(dataImportKey, cohort.id).user_ids)).toEqual(['u1', 'u2']);
    expect(h.sandbox.state.listCohorts(dataImportKey)[0]?.name).toBe(`[cohort-sync] Buyers: ${cohort.id}`);

    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u3' }], remove: [{ user_id: 'u1' }] });
    h.sandbox.state.clearRequests();
    const second = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(second.counts).toMatchObject({ added: 1, removed: 1, failed: 0 });
    expect(sorted(h.sandbox.state.cohortIdentifiers(dataImportKey, cohort.id).user_ids)).toEqual(['u2', 'u3']);
    // Only one membership request, carrying exactly the delta (the name did not change, so no name call).
    const requests = h.sandbox.state.requests();
    expect(requests).toHaveLength(1);

    const third = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(third.counts).toMatchObject({ added: 0, removed: 0 });
    expect(third.requests).toBe(0);
  });

  it('a removal run that crashed after deleting its sync is finished as succeeded when resumed', async () => {
    const project = await projectWithBraze(h.deps);
    const { target } = await sandboxTarget(h, project.id, { type: 'user_id' });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Leaving' });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'one_time' });
    await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    await h.worker.stop();
    // The state a SIGKILL between "delete the sync" and "finish the run" leaves behind.
    const run = await h.store.runs.create({ id: 'run_removal', projectId: project.id, syncId: sync.id, brazeCohortId: sync.brazeCohortRef, trigger: 'delete', mode: 'remove_all', now: new Date().toISOString() });
    await h.store.runs.start(run.id, new Date().toISOString());
    await h.store.runs.setPlanned(run.id, { totalBatches: 0, skipped: 0, skipReasons: {} });
    await h.store.syncs.delete(project.id, sync.id);
    const { RunExecutor } = await import('../../src/app/run-executor.ts');
    await new RunExecutor(h.deps, 'resumer').processBrazeCohort(sync.brazeCohortRef);
    expect((await h.store.runs.getById(run.id))?.status).toBe('succeeded');
  });
});
