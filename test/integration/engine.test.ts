import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, sorted, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { ackedKeys } from '../support/sync-checks.ts';

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
    await changeMembers(h.deps, project.id, cohort.id, {
      add: [{ user_id: 'u1' }, { user_id: 'u2' }, { device_id: 'anon-device-1' }],
    });

    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'one_time',
    });
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
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'one_time',
    });
    await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    await h.worker.stop();
    // The state a SIGKILL between "delete the sync" and "finish the run" leaves behind.
    const run = await h.store.runs.create({
      id: 'run_removal',
      projectId: project.id,
      syncId: sync.id,
      brazeCohortId: sync.audienceRef,
      trigger: 'delete',
      mode: 'remove_all',
      now: new Date().toISOString(),
    });
    await h.store.runs.start(run.id, new Date().toISOString());
    await h.store.runs.setPlanned(run.id, { totalBatches: 0, skipped: 0, skipReasons: {} });
    await h.store.syncs.delete(project.id, sync.id);
    const { RunExecutor } = await import('../../src/app/run-executor.ts');
    await new RunExecutor(h.deps, 'resumer').processAudience(sync.audienceRef);
    expect((await h.store.runs.getById(run.id))?.status).toBe('succeeded');
  });

  it('fails only the identifiers a 2xx errors[] names, records why, and sends them again next run', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, dataImportKey } = await sandboxTarget(h, project.id, { type: 'user_id' });
    h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'p1' }, { external_id: 'p2' }]);
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Partial' });
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'p1' }, { user_id: 'p2' }] });
    // The sandbox answers 201 with an errors array naming p2 (and, being injected, applies nothing).
    h.sandbox.state.injectFaults([
      { path: 'users', status: 201, body: { message: 'success', errors: ["user_id 'p2' could not be processed"] } },
    ]);
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'one_time',
    });
    const run = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    // "Partial": the run succeeded, one user delivered and one failed.
    expect(run).toMatchObject({ status: 'succeeded', counts: { added: 1, failed: 1 }, identifiers: { added: 1 } });
    expect((await ackedKeys(h.store, sync.audienceRef)).sort()).toEqual(['e:p1']);
    const { runMembersCsv } = await import('../../src/app/run-export.ts');
    let csv = '';
    for await (const chunk of runMembersCsv(h.deps, run)) csv += chunk;
    const rows = csv.trim().split('\n').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.startsWith('p1,'))).toMatch(/,acked,$/);
    expect(rows.find((r) => r.startsWith('p2,'))).toContain(",failed,user_id 'p2' could not be processed");

    // The next run sends p2 again (and only p2): nothing else is pending.
    const next = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(next).toMatchObject({ status: 'succeeded', counts: { added: 1, failed: 0 }, identifiers: { added: 1 } });
    expect((await ackedKeys(h.store, sync.audienceRef)).sort()).toEqual(['e:p1', 'e:p2']);
  });

  it('a graceful stop hands the lease back so another worker resumes at once', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, dataImportKey } = await sandboxTarget(h, project.id, { type: 'user_id' });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Slow' });
    await changeMembers(h.deps, project.id, cohort.id, {
      add: Array.from({ length: 3000 }, (_, i) => ({ user_id: `s${i}` })),
    });
    h.sandbox.state.injectFaults([{ path: 'users', latencyMs: 400, count: 1 }]);
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'one_time',
    });
    const runId = (await firstRunOf(h.deps, project.id, sync.id)).id;
    for (let i = 0; i < 100 && (await h.store.runs.getById(runId))?.phase !== 'sending'; i++)
      await new Promise((r) => setTimeout(r, 10));
    await h.worker.stop();
    const { RunExecutor } = await import('../../src/app/run-executor.ts');
    // The lease TTL is 5 s in the harness: resuming well before that proves the lease was handed back.
    const started = Date.now();
    await new RunExecutor(h.deps, 'successor').processAudience(sync.audienceRef);
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await h.store.runs.getById(runId))?.status).toBe('succeeded');
    expect(h.sandbox.state.cohortIdentifiers(dataImportKey, cohort.id).user_ids).toHaveLength(3000);
  });
});
