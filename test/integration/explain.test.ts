// Explain a user against the real store, client and sandbox: what the mapping gives them, what Braze
// acknowledged in which run, what is still to come, and which Braze rule may keep them out.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { AppError } from '../../src/app/errors.ts';
import { type ExplainedSync, type Explanation, explainUser } from '../../src/app/explain.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe.each(ENGINES)('explain a user on $name', (engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(engine);
  });
  afterEach(async () => {
    await h?.close();
  });

  /** Two hourly syncs of one cohort into one Braze workspace (the two-sync recipe): user_id and device_id. */
  async function recipe() {
    const project = await projectWithBraze(h.deps);
    const byUser = await sandboxTarget(h, project.id, { type: 'user_id' }, { name: 'by-user' });
    const byDevice = await sandboxTarget(
      h,
      project.id,
      { type: 'device_id' },
      { name: 'by-device', dataImportKey: byUser.dataImportKey },
    );
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Buyers' });
    await changeMembers(h.deps, project.id, cohort.id, {
      add: [{ user_id: 'u1', device_id: 'd1' }, { user_id: 'u2' }, { device_id: 'anon-1' }],
    });
    const userSync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: byUser.target.id,
      cadence: 'hourly',
    });
    const deviceSync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: byDevice.target.id,
      cadence: 'hourly',
    });
    const firstRuns = [
      await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, userSync.id)).id),
      await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, deviceSync.id)).id),
    ];
    for (const r of firstRuns) expect(r.status).toBe('succeeded');
    await h.queue.idle();
    return { project, cohort, userSync, deviceSync, dataImportKey: byUser.dataImportKey, firstRuns };
  }

  const syncOf = (e: Explanation, syncId: string): ExplainedSync => {
    const found = e.cohorts.flatMap((c) => c.syncs).find((s) => s.syncId === syncId);
    if (!found) throw new Error(`sync ${syncId} not in the explanation`);
    return found;
  };
  const ident = (s: ExplainedSync, kind: string, value: string) => {
    const found = s.identifiers.find((i) => i.kind === kind && i.value === value);
    if (!found) throw new Error(`${kind} ${value} not explained: ${JSON.stringify(s.identifiers)}`);
    return found;
  };

  it('says what was sent, in which run, and the Braze rules for an identified member', async () => {
    const { project, cohort, userSync, deviceSync } = await recipe();
    const e = await explainUser(h.deps, project.id, { userId: 'u1' });
    expect(e.profile).toMatchObject({ userId: 'u1', deviceIds: ['d1'], identified: true });
    expect(e.cohorts).toHaveLength(1);
    expect(e.cohorts[0]).toMatchObject({ cohortId: cohort.id, cohortName: 'Buyers', member: true });
    expect(e.notes.join(' ')).toMatch(/ignores their device ids \(d1\)/);

    const byUser = syncOf(e, userSync.id);
    expect(byUser).toMatchObject({
      targetName: 'by-user',
      mapping: { type: 'user_id' },
      via: 'user_id',
      skipped: null,
      cadence: 'hourly',
    });
    const ext = ident(byUser, 'external_id', 'u1');
    expect(ext).toMatchObject({ wanted: true, state: 'in_braze' });
    // The shared Braze cohort: whichever of the two first runs sent e:u1 is the one acknowledged.
    expect(ext.acknowledged?.runId).toMatch(/^run_/);
    expect(ext.lastRun).toMatchObject({
      runId: ext.acknowledged!.runId,
      operation: 'add',
      outcome: 'acked',
      runStatus: 'succeeded',
    });
    expect(ext.brazeRule).toMatch(/never creates users.*external_id "u1" exists/);
    // d1 is wanted by the device sync of the same Braze cohort, not by this one.
    expect(ident(byUser, 'device_id', 'd1')).toMatchObject({ wanted: false, state: 'kept_by_other_sync' });
    expect(byUser.summary).toMatch(/acknowledged: external_id "u1"/);

    const byDevice = syncOf(e, deviceSync.id);
    expect(byDevice.identifiers.map((i) => `${i.kind}:${i.value}:${i.state}`).sort()).toEqual([
      'device_id:d1:in_braze',
      'external_id:u1:in_braze',
    ]);
    expect(ident(byDevice, 'device_id', 'd1').brazeRule).toMatch(
      /ignores device ids of identified users.*external_id "u1"/,
    );

    // The same explanation by device id.
    const byDeviceId = await explainUser(h.deps, project.id, { deviceId: 'd1' });
    expect(byDeviceId.profile?.id).toBe(e.profile?.id);
  });

  it('explains skipped members, pending adds and removals, and failed batches', async () => {
    const { project, cohort, userSync, deviceSync } = await recipe();
    // Anonymous: the user_id mapping skips them; the device mapping reaches them while anonymous.
    const anon = await explainUser(h.deps, project.id, { deviceId: 'anon-1' });
    expect(anon.profile).toMatchObject({ userId: null, identified: false });
    const skipped = syncOf(anon, userSync.id);
    expect(skipped.skipped).toEqual({ reason: 'no_user_id', message: expect.stringMatching(/no user_id/) });
    // The Braze cohort is shared: what the device sync sent is there, and this sync does not take it away.
    expect(skipped.identifiers).toEqual([
      expect.objectContaining({ kind: 'device_id', value: 'anon-1', wanted: false, state: 'kept_by_other_sync' }),
    ]);
    expect(skipped.summary).toMatch(/skipped/);
    expect(ident(syncOf(anon, deviceSync.id), 'device_id', 'anon-1').brazeRule).toMatch(
      /anonymous Braze user with device id "anon-1"/,
    );

    // u2 leaves and u3 joins; no run yet.
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u3' }], remove: [{ user_id: 'u2' }] });
    const leaving = syncOf(await explainUser(h.deps, project.id, { userId: 'u2' }), userSync.id);
    expect(leaving).toMatchObject({
      identifiers: [expect.objectContaining({ value: 'u2', wanted: false, state: 'pending_removal' })],
    });
    expect(leaving.summary).toMatch(/will be removed at the next run/);
    const joining = syncOf(await explainUser(h.deps, project.id, { userId: 'u3' }), userSync.id);
    expect(joining.identifiers).toEqual([
      expect.objectContaining({ value: 'u3', state: 'pending_add', acknowledged: null, lastRun: null }),
    ]);

    // Braze refuses the next batch (400): the add is recorded as failed, with Braze's message.
    h.sandbox.state.injectFaults([{ status: 400, path: 'users', body: { message: 'cohort_changes is malformed' } }]);
    const failing = await waitForRun(h.deps, (await runNow(h.deps, project.id, userSync.id)).id);
    expect(failing.counts.failed).toBeGreaterThan(0);
    const afterFail = ident(
      syncOf(await explainUser(h.deps, project.id, { userId: 'u3' }), userSync.id),
      'external_id',
      'u3',
    );
    expect(afterFail).toMatchObject({
      state: 'pending_add',
      acknowledged: null,
      lastRun: { runId: failing.id, operation: 'add', outcome: 'failed' },
    });
    expect(afterFail.lastRun?.error).toMatch(/malformed/);

    // The next run goes through: u3 acknowledged, u2 removed (and its removal is the last thing done to it).
    const ok = await waitForRun(h.deps, (await runNow(h.deps, project.id, userSync.id)).id);
    expect(ok.status).toBe('succeeded');
    const u3 = ident(syncOf(await explainUser(h.deps, project.id, { userId: 'u3' }), userSync.id), 'external_id', 'u3');
    expect(u3).toMatchObject({
      state: 'in_braze',
      acknowledged: { runId: ok.id },
      lastRun: { runId: ok.id, operation: 'add', outcome: 'acked' },
    });
    const u2 = await explainUser(h.deps, project.id, { userId: 'u2' });
    expect(u2.cohorts[0]?.member).toBe(false);
    expect(ident(syncOf(u2, userSync.id), 'external_id', 'u2')).toMatchObject({
      state: 'not_in_braze',
      acknowledged: null,
      lastRun: { runId: ok.id, operation: 'remove', outcome: 'acked' },
    });
  });

  it('explains a user the project does not know', async () => {
    const { project, userSync } = await recipe();
    const e = await explainUser(h.deps, project.id, { userId: 'nobody' });
    expect(e.profile).toBeNull();
    expect(e.notes.join(' ')).toMatch(/No profile of this project has user_id "nobody"/);
    expect(e.cohorts[0]?.member).toBe(false);
    expect(syncOf(e, userSync.id)).toMatchObject({
      identifiers: [],
      skipped: null,
      summary: expect.stringMatching(/Not a member/),
    });
    await expect(explainUser(h.deps, project.id, {})).rejects.toBeInstanceOf(AppError);
  });
});
