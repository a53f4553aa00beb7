// The sync engine end to end (GitHub issue 2): real store, real Braze client, the Braze sandbox over HTTP.
// Each scenario checks three views that must agree: what the domain says the cohort wants, what the store
// acknowledged, and what the sandbox received.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { RunExecutor } from '../../src/app/run-executor.ts';
import { createSync, requestRun, runNow } from '../../src/app/syncs.ts';
import { createTarget } from '../../src/app/targets.ts';
import { startWorker } from '../../src/app/worker.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import type { Cohort, Project, Run, Sync, Target } from '../../src/domain/model.ts';
import { compose } from '../../src/entry/compose.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import {
  ackedKeys,
  expectedKeys,
  membershipRequests,
  minus,
  nameRequests,
  sandboxKeys,
} from '../support/sync-checks.ts';

const BIG = 2_500;

describe.each(ENGINES)('sync engine scenarios on $name', (engine) => {
  let h: Harness;
  let project: Project;
  /** 2,500 identified members, shared by the batching and fault scenarios (each uses its own workspace). */
  let big: Cohort;

  beforeAll(async () => {
    h = await startHarness(engine);
    project = await projectWithBraze(h.deps);
    big = await createStaticCohort(h.deps, project.id, { name: 'Big' });
    await changeMembers(h.deps, project.id, big.id, {
      add: Array.from({ length: BIG }, (_, i) => ({ user_id: `big-${String(i).padStart(4, '0')}` })),
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.sandbox.state.clearFaults();
    h.sandbox.state.clearRequests();
  });

  const cohortOf = async (name: string, members: unknown[]) => {
    const cohort = await createStaticCohort(h.deps, project.id, { name });
    if (members.length > 0) await changeMembers(h.deps, project.id, cohort.id, { add: members });
    return cohort;
  };

  const startSync = async (cohort: Cohort, target: Target): Promise<{ sync: Sync; run: Run }> => {
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'one_time',
    });
    const run = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    return { sync, run };
  };

  const again = async (sync: Sync) => waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);

  /** The store's acknowledged identifiers and the sandbox's received ones both equal the domain's answer. */
  const expectInStep = async (sync: Sync, dataImportKey: string, mappings: Mapping[]) => {
    const expected = await expectedKeys(h.store, sync.cohortId, mappings);
    expect(sandboxKeys(h.sandbox, dataImportKey, sync.cohortId)).toEqual(expected);
    expect(await ackedKeys(h.store, sync.audienceRef)).toEqual(expected);
    return expected;
  };

  it('first run sends every member, later runs only the changes', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const cohort = await cohortOf('Deltas', [
      { user_id: 'u1' },
      { user_id: 'u2' },
      { user_id: 'u3' },
      { device_id: 'anon-1' },
    ]);

    const { sync, run: first } = await startSync(cohort, target);
    expect(first).toMatchObject({
      status: 'succeeded',
      counts: { added: 3, removed: 0, skipped: 1, failed: 0 },
      skipReasons: { no_user_id: 1 },
    });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['e:u1', 'e:u2', 'e:u3']);
    expect(nameRequests(h.sandbox).map((r) => r.name)).toEqual([`[cohort-sync] Deltas: ${cohort.id}`]);

    await changeMembers(h.deps, project.id, cohort.id, {
      add: [{ user_id: 'u4' }, { user_id: 'U4' }],
      remove: [{ user_id: 'u1' }],
    });
    h.sandbox.state.clearRequests();
    const second = await again(sync);
    expect(second.counts).toMatchObject({ added: 2, removed: 1, failed: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['e:U4', 'e:u2', 'e:u3', 'e:u4']);
    // Exactly the delta, in one request; no name call (the name did not change).
    const sent = membershipRequests(h.sandbox);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.adds.sort()).toEqual(['e:U4', 'e:u4']);
    expect(sent[0]!.removes).toEqual(['e:u1']);
    expect(nameRequests(h.sandbox)).toEqual([]);

    h.sandbox.state.clearRequests();
    const third = await again(sync);
    expect(third).toMatchObject({ status: 'succeeded', requests: 0, counts: { added: 0, removed: 0 } });
    expect(h.sandbox.state.requests()).toEqual([]);
  });

  it('identification: a device-mapped member who is identified gets its external id added', async () => {
    const mapping: Mapping = { type: 'device_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.seedUsers(dataImportKey, [
      { device_ids: ['dev-A'] },
      { external_id: 'user-B', device_ids: ['dev-B'] },
    ]);
    const cohort = await cohortOf('Identify (device)', [
      { device_id: 'dev-A' },
      { user_id: 'user-B', device_id: 'dev-B' },
    ]);
    const { sync, run } = await startSync(cohort, target);
    // Counts are users; the identifiers sent are counted beside them.
    expect(run.counts).toMatchObject({ added: 2, removed: 0, skipped: 0 });
    expect(run.identifiers).toEqual({ added: 3, removed: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['d:dev-A', 'd:dev-B', 'e:user-B']);
    // Braze matches the anonymous user by device, the identified one only by external id.
    expect(
      h.sandbox.state.cohortUsers(dataImportKey, cohort.id).items.map((u) => u.external_id ?? u.device_ids[0]),
    ).toEqual(['user-B', 'dev-A']);

    const anonymous = await h.store.membership.findProfile(project.id, { deviceId: 'dev-A' });
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'user-A', device_id: 'dev-A' }] });
    // The anonymous profile itself became identified (no second profile).
    expect(await h.store.membership.findProfile(project.id, { userId: 'user-A' })).toMatchObject({
      id: anonymous!.id,
      userId: 'user-A',
      deviceIds: ['dev-A'],
    });
    h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'user-A', device_ids: ['dev-A'] }]); // identified in Braze too

    const second = await again(sync);
    expect(second.counts).toMatchObject({ added: 1, removed: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['d:dev-A', 'd:dev-B', 'e:user-A', 'e:user-B']);
    // Without the external id Braze would have dropped user-A: its device id no longer matches it.
    expect(h.sandbox.state.cohortUsers(dataImportKey, cohort.id).items.map((u) => u.external_id)).toEqual([
      'user-A',
      'user-B',
    ]);
  });

  it('identification: a user_id-mapped anonymous member is skipped, then added once identified', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const cohort = await cohortOf('Identify (user)', [{ device_id: 'dev-C' }, { user_id: 'user-D' }]);
    const { sync, run } = await startSync(cohort, target);
    expect(run.counts).toMatchObject({ added: 1, skipped: 1 });
    expect(run.skipReasons).toEqual({ no_user_id: 1 });

    const anonymous = await h.store.membership.findProfile(project.id, { deviceId: 'dev-C' });
    // Identified through another cohort's upload: identity is the profile's, not the cohort's.
    const side = await cohortOf('Side', []);
    await changeMembers(h.deps, project.id, side.id, { add: [{ user_id: 'user-C', device_id: 'dev-C' }] });
    expect(await h.store.membership.findProfile(project.id, { deviceId: 'dev-C' })).toMatchObject({
      id: anonymous!.id,
      userId: 'user-C',
    });

    const second = await again(sync);
    expect(second.counts).toMatchObject({ added: 1, removed: 0, skipped: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['e:user-C', 'e:user-D']);
  });

  it('identification that merges an anonymous member into an existing identified user moves its identifiers', async () => {
    const mapping: Mapping = { type: 'device_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const side = await cohortOf('Merge side', [{ user_id: 'user-M', device_id: 'dev-M1' }]);
    const cohort = await cohortOf('Merge', [{ device_id: 'dev-M2' }]);
    const { sync, run } = await startSync(cohort, target);
    expect(run.counts).toMatchObject({ added: 1 });
    const anonymous = await h.store.membership.findProfile(project.id, { deviceId: 'dev-M2' });

    // The anonymous device turns out to be user-M's: the anonymous profile folds into user-M's profile.
    await changeMembers(h.deps, project.id, side.id, { add: [{ user_id: 'user-M', device_id: 'dev-M2' }] });
    const merged = await h.store.membership.findProfile(project.id, { deviceId: 'dev-M2' });
    expect(merged).toMatchObject({ userId: 'user-M', deviceIds: ['dev-M1', 'dev-M2'] });
    expect(merged!.id).not.toBe(anonymous!.id);
    expect(await h.store.membership.isMember(cohort.id, merged!.id)).toBe(true);
    expect(await h.store.membership.cohortSize(cohort.id)).toBe(1);

    const second = await again(sync);
    expect(second.counts).toMatchObject({ added: 1, removed: 0 });
    expect(second.identifiers).toEqual({ added: 2, removed: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual(['d:dev-M1', 'd:dev-M2', 'e:user-M']);
  });

  it('user_alias mapping sends {label, property value}; a changed value swaps the alias', async () => {
    const crm: Mapping = { type: 'user_alias', aliasLabel: 'crm', aliasProperty: 'crm_id' };
    const byUser: Mapping = { type: 'user_alias', aliasLabel: 'uid' };
    const cohort = await cohortOf('Aliases', [
      { user_id: 'a1', properties: { crm_id: 'C-1' } },
      { user_id: 'a2', properties: { crm_id: 42 } },
      { user_id: 'a3', properties: { crm_id: true } },
      { user_id: 'a4' },
      { device_id: 'a5-device', properties: { crm_id: 'C-5' } },
    ]);
    const crmTarget = await sandboxTarget(h, project.id, crm);
    h.sandbox.state.seedUsers(crmTarget.dataImportKey, [
      { external_id: 'a1', aliases: [{ alias_label: 'crm', alias_name: 'C-1' }] },
    ]);
    const { sync, run } = await startSync(cohort, crmTarget.target);
    expect(run).toMatchObject({
      status: 'succeeded',
      counts: { added: 4, skipped: 1 },
      skipReasons: { no_alias_value: 1 },
    });
    expect(await expectInStep(sync, crmTarget.dataImportKey, [crm])).toEqual([
      'a:crm\u001f42',
      'a:crm\u001fC-1',
      'a:crm\u001fC-5',
      'a:crm\u001ftrue',
    ]);
    expect(h.sandbox.state.cohortIdentifiers(crmTarget.dataImportKey, cohort.id).aliases).toContainEqual({
      alias_label: 'crm',
      alias_name: '42',
    });
    expect(h.sandbox.state.cohortUsers(crmTarget.dataImportKey, cohort.id).items.map((u) => u.external_id)).toEqual([
      'a1',
    ]);

    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'a1', properties: { crm_id: 'C-1b' } }] });
    const second = await again(sync);
    expect(second.counts).toMatchObject({ added: 1, removed: 1 });
    expect(await expectInStep(sync, crmTarget.dataImportKey, [crm])).toEqual([
      'a:crm\u001f42',
      'a:crm\u001fC-1b',
      'a:crm\u001fC-5',
      'a:crm\u001ftrue',
    ]);

    // The default alias property is user_id.
    const uidTarget = await sandboxTarget(h, project.id, byUser);
    const { sync: uidSync, run: uidRun } = await startSync(cohort, uidTarget.target);
    expect(uidRun.counts).toMatchObject({ added: 4, skipped: 1 });
    expect(await expectInStep(uidSync, uidTarget.dataImportKey, [byUser])).toEqual([
      'a:uid\u001fa1',
      'a:uid\u001fa2',
      'a:uid\u001fa3',
      'a:uid\u001fa4',
    ]);
  });

  it('device_id mapping sends every device id and also the external id of identified members', async () => {
    const mapping: Mapping = { type: 'device_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.seedUsers(dataImportKey, [
      { external_id: 'multi', device_ids: ['m-1', 'm-2'] },
      { device_ids: ['solo'] },
    ]);
    const cohort = await cohortOf('Devices', [
      { user_id: 'multi', device_id: 'm-1' },
      { user_id: 'multi', device_id: 'm-2' },
      { device_id: 'solo' },
      { user_id: 'no-device' },
    ]);
    const { sync, run } = await startSync(cohort, target);
    expect(run.counts).toMatchObject({ added: 3, skipped: 0 });
    expect(run.identifiers).toEqual({ added: 5, removed: 0 });
    expect(await expectInStep(sync, dataImportKey, [mapping])).toEqual([
      'd:m-1',
      'd:m-2',
      'd:solo',
      'e:multi',
      'e:no-device',
    ]);
    expect(
      h.sandbox.state.cohortUsers(dataImportKey, cohort.id).items.map((u) => u.external_id ?? u.device_ids[0]),
    ).toEqual(['multi', 'solo']);
  });

  it('two-sync recipe: two targets, one key → one Braze cohort holding the union; pausing or deleting one keeps what the other wants', async () => {
    const byDevice: Mapping = { type: 'device_id' };
    const byUser: Mapping = { type: 'user_id' };
    const dev = await sandboxTarget(h, project.id, byDevice);
    const uid = await sandboxTarget(h, project.id, byUser, { dataImportKey: dev.dataImportKey });
    const cohort = await cohortOf('Recipe', [
      { user_id: 'r1', device_id: 'rd1' },
      { device_id: 'rd2' },
      { user_id: 'r3' },
    ]);

    const { sync: devSync } = await startSync(cohort, dev.target);
    const { sync: uidSync } = await startSync(cohort, uid.target);
    expect(uidSync.audienceRef).toBe(devSync.audienceRef);
    expect(h.sandbox.state.listCohorts(dev.dataImportKey)).toHaveLength(1);
    const both = [byDevice, byUser];
    expect(await expectInStep(devSync, dev.dataImportKey, both)).toEqual(['d:rd1', 'd:rd2', 'e:r1', 'e:r3']);

    // Pause the user_id sync: the device sync's run removes nothing (and e:r3 is wanted by both anyway).
    await h.store.syncs.update(project.id, uidSync.id, { paused: true }, new Date().toISOString());
    h.sandbox.state.clearRequests();
    expect((await again(devSync)).counts).toMatchObject({ added: 0, removed: 0 });
    expect(membershipRequests(h.sandbox)).toEqual([]);

    // Swap: device sync paused, user_id sync active. A new member gets only its external id; device ids stay.
    await h.store.syncs.update(project.id, devSync.id, { paused: true }, new Date().toISOString());
    await h.store.syncs.update(project.id, uidSync.id, { paused: false }, new Date().toISOString());
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'r4', device_id: 'rd4' }] });
    const swapped = await again(uidSync);
    expect(swapped.counts).toMatchObject({ added: 1, removed: 0 });
    expect(sandboxKeys(h.sandbox, dev.dataImportKey, cohort.id)).toEqual(['d:rd1', 'd:rd2', 'e:r1', 'e:r3', 'e:r4']);
    expect(await ackedKeys(h.store, devSync.audienceRef)).toEqual(['d:rd1', 'd:rd2', 'e:r1', 'e:r3', 'e:r4']);

    // A member who leaves is removed by every mapping, paused or not.
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'r1' }] });
    const left = await again(uidSync);
    expect(left.counts).toMatchObject({ added: 0, removed: 1 });
    expect(left.identifiers).toEqual({ added: 0, removed: 2 });
    expect(sandboxKeys(h.sandbox, dev.dataImportKey, cohort.id)).toEqual(['d:rd2', 'e:r3', 'e:r4']);

    // Deleting the device sync with removal takes out only what no other sync wants.
    const removal = await waitForRun(h.deps, (await requestRun(h.deps, devSync, 'delete', 'remove_all')).id);
    expect(removal).toMatchObject({ status: 'succeeded', counts: { removed: 1 } });
    expect(await h.store.syncs.get(project.id, devSync.id)).toBeUndefined();
    expect(await expectInStep(uidSync, dev.dataImportKey, [byUser])).toEqual(['e:r3', 'e:r4']);
  });

  it(`a cohort of ${BIG} members goes in 3 membership requests of at most 1,000 distinct ids, after the name call`, async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const { sync, run } = await startSync(big, target);
    expect(run).toMatchObject({
      status: 'succeeded',
      totalBatches: 3,
      requests: 4,
      retries: 0,
      counts: { added: BIG, removed: 0, failed: 0 },
    });
    const sent = membershipRequests(h.sandbox);
    expect(sent.map((r) => r.adds.length + r.removes.length).sort()).toEqual([1000, 1000, 500]);
    for (const r of sent) {
      expect(r.status).toBe(201);
      expect(new Set([...r.adds, ...r.removes]).size).toBe(r.adds.length + r.removes.length);
    }
    expect(new Set(sent.flatMap((r) => r.adds)).size).toBe(BIG);
    expect(h.sandbox.state.requests()[0]!.path).toMatch(/\/cohorts$/); // the name call comes first
    expect(await expectInStep(sync, dataImportKey, [mapping])).toHaveLength(BIG);
  });

  it('renaming the cohort makes the next run call the name endpoint again with the new name', async () => {
    const { target, dataImportKey } = await sandboxTarget(h, project.id, { type: 'user_id' });
    const cohort = await cohortOf('Before', [{ user_id: 'n1' }]);
    const { sync } = await startSync(cohort, target);
    expect(h.sandbox.state.listCohorts(dataImportKey)).toEqual([
      expect.objectContaining({ id: cohort.id, name: `[cohort-sync] Before: ${cohort.id}` }),
    ]);

    await h.store.cohorts.update(project.id, cohort.id, { name: 'After' }, new Date().toISOString());
    h.sandbox.state.clearRequests();
    const renamed = await again(sync);
    expect(renamed).toMatchObject({ status: 'succeeded', requests: 1 });
    expect(nameRequests(h.sandbox)).toEqual([
      { status: 201, name: `[cohort-sync] After: ${cohort.id}`, cohortId: cohort.id },
    ]);
    expect(h.sandbox.state.listCohorts(dataImportKey)).toEqual([
      expect.objectContaining({ id: cohort.id, name: `[cohort-sync] After: ${cohort.id}` }),
    ]);
  });

  it('429 with X-RateLimit-Reset a second ahead: waits for the reset, then everything arrives', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const reset = Math.ceil(Date.now() / 1000) + 1;
    h.sandbox.state.injectFaults([{ status: 429, path: 'users', headers: { 'X-RateLimit-Reset': String(reset) } }]);
    const { sync, run } = await startSync(big, target);
    expect(run).toMatchObject({ status: 'succeeded', retries: 1, requests: 5, counts: { added: BIG, failed: 0 } });
    await expectInStep(sync, dataImportKey, [mapping]);
    // The rate-limited batch was sent again only once the reset had passed.
    const log = h.sandbox.state.requests();
    const limited = log.findIndex((r) => r.status === 429);
    const retried = log.findIndex(
      (r, i) => i > limited && r.status === 201 && JSON.stringify(r.body) === JSON.stringify(log[limited]!.body),
    );
    expect(retried).toBeGreaterThan(limited);
    expect(Date.parse(log[retried]!.at)).toBeGreaterThanOrEqual(reset * 1000);
  });

  it('423, 500, 503 and a dropped connection are retried: the run succeeds, nothing is lost, retries are counted', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.injectFaults([
      { status: 500, path: 'cohorts' },
      { status: 423, path: 'users' },
      { drop: true, path: 'users' },
      { status: 500, path: 'users' },
      { status: 503, path: 'users' },
    ]);
    const { sync, run } = await startSync(big, target);
    expect(run).toMatchObject({
      status: 'succeeded',
      retries: 5,
      requests: 4 + 5,
      counts: { added: BIG, removed: 0, failed: 0 },
    });
    await expectInStep(sync, dataImportKey, [mapping]);
    expect(h.sandbox.state.stats().byStatus).toEqual({ '201': 4, '423': 1, '500': 2, '503': 1, dropped: 1 });
    expect(h.sandbox.state.pendingFaults()).toEqual([]);
  });

  it('a 400 on one batch fails that batch only; the next run delivers it', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.injectFaults([{ status: 400, path: 'users', body: { message: 'Invalid cohort_changes' } }]);
    const { sync, run } = await startSync(big, target);
    const rejected = membershipRequests(h.sandbox).find((r) => r.status === 400)!;
    expect(rejected).toBeDefined();
    expect(run.counts).toMatchObject({ failed: rejected.adds.length, added: BIG - rejected.adds.length, removed: 0 });
    expect(run.retries).toBe(0); // a 400 is not retried
    const expected = await expectedKeys(h.store, big.id, [mapping]);
    const delivered = minus(expected, rejected.adds);
    expect(sandboxKeys(h.sandbox, dataImportKey, big.id)).toEqual(delivered);
    expect(await ackedKeys(h.store, sync.audienceRef)).toEqual(delivered);
    const batches = await h.store.planning.runBatches(run.id, 0, 10);
    expect(batches.map((b) => b.status).sort()).toEqual(['acked', 'acked', 'failed']);
    expect(batches.find((b) => b.status === 'failed')!.error).toContain('Invalid cohort_changes');

    const retry = await again(sync);
    expect(retry).toMatchObject({
      status: 'succeeded',
      counts: { added: rejected.adds.length, removed: 0, failed: 0 },
    });
    await expectInStep(sync, dataImportKey, [mapping]);
  });

  it('401 for a Data Import Key Braze does not know fails the run with a message that says what to do', async () => {
    const target = await createTarget(h.deps, project.id, {
      name: 'unknown-key',
      endpoint: h.sandbox.url,
      dataImportKey: 'never-generated-key-1234',
      mapping: { type: 'user_id' },
    });
    const cohort = await cohortOf('Unauthorised', [{ user_id: 'x1' }]);
    const { run } = await startSync(cohort, target);
    expect(run.status).toBe('failed');
    expect(run.error?.code).toBe('braze_credentials');
    expect(run.error?.message).toContain('Invalid client secret');
    expect(run.error?.message).toMatch(/Data Import Key \(ending …?1234\)/);
    expect(run.error?.message).toMatch(/generate a new Data Import Key/);
    expect(run.error?.message).not.toContain('never-generated-key-1234');
    expect(membershipRequests(h.sandbox)).toEqual([]);
    // The refused name call still counts as a request made.
    expect(run.requests).toBe(1);
  });

  it('401 for a wrong partner API key fails the run and points the operator at the configuration', async () => {
    const fresh = await engine.fresh();
    const other = await compose({
      store: fresh.location,
      secretKey: randomBytes(32),
      logger: pino({ level: 'silent' }),
      braze: {
        partnerSlug: 'cohort-sync',
        partnerKeys: { US: 'not-the-partner-key' },
        requestsPerHour: 250_000,
        retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 3 },
      },
      settings: { allowedEndpoints: [h.sandbox.url] },
    });
    const worker = await startWorker(other.deps, { owner: other.owner, sweepEveryMs: 200 });
    try {
      const p = await projectWithBraze(other.deps);
      const dataImportKey = h.sandbox.state.createWorkspace();
      const target = await createTarget(other.deps, p.id, {
        name: 'wrong-partner',
        endpoint: h.sandbox.url,
        dataImportKey,
        mapping: { type: 'user_id' },
      });
      const cohort = await createStaticCohort(other.deps, p.id, { name: 'Partner' });
      await changeMembers(other.deps, p.id, cohort.id, { add: [{ user_id: 'p1' }] });
      const sync = await createSync(other.deps, p.id, {
        cohortId: cohort.id,
        targetId: target.id,
        cadence: 'one_time',
      });
      const run = await waitForRun(other.deps, (await firstRunOf(other.deps, p.id, sync.id)).id);
      expect(run).toMatchObject({ status: 'failed', retries: 0, error: { code: 'braze_credentials' } });
      expect(run.error?.message).toContain('Invalid Partner API key');
      expect(run.error?.message).toContain('BRAZE_PARTNER_API_KEY_US');
      expect(run.error?.message).not.toContain('not-the-partner-key');
    } finally {
      await worker.stop();
      await other.store.close();
      await fresh.drop();
    }
  });

  it('a worker whose lease expired mid-run records nothing more; the next lease holder finishes the run', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.injectFaults([{ latencyMs: 400, path: 'users', count: 3 }]);
    const sync = await createSync(h.deps, project.id, { cohortId: big.id, targetId: target.id, cadence: 'one_time' });
    const run = await firstRunOf(h.deps, project.id, sync.id);
    while ((h.sandbox.state.pendingFaults()[0]?.remaining ?? 0) > 0)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const fenceOf = async () =>
      Number(
        (
          await h.store.raw.db
            .selectFrom('braze_cohorts')
            .select('fence')
            .where('id', '=', sync.audienceRef)
            .executeTakeFirstOrThrow()
        ).fence,
      );
    const stalledFence = await fenceOf();

    // The first worker stalls past its TTL (as if paused by the OS): another worker takes the lease.
    await h.store.raw.db
      .updateTable('braze_cohorts')
      .set({ lease_until: '2000-01-01T00:00:00.000Z' })
      .where('id', '=', sync.audienceRef)
      .execute();
    const other = new RunExecutor(h.deps, 'another-worker');
    await other.processAudience(sync.audienceRef);
    expect(await fenceOf()).toBe(stalledFence + 1);
    await h.queue.idle(); // the first worker found its acknowledgements refused and stopped

    const done = (await h.store.runs.getById(run.id))!;
    expect(done).toMatchObject({ status: 'succeeded', counts: { added: BIG, removed: 0, failed: 0 } });
    expect((await h.store.planning.runBatches(run.id, 0, 10)).map((b) => b.status)).toEqual([
      'acked',
      'acked',
      'acked',
    ]);
    await expectInStep(sync, dataImportKey, [mapping]);
    expect(
      await h.store.raw.db
        .selectFrom('braze_cohorts')
        .select('lease_owner')
        .where('id', '=', sync.audienceRef)
        .executeTakeFirstOrThrow(),
    ).toEqual({ lease_owner: null });
  });

  it('runs requested while one is running coalesce into one more run', async () => {
    const mapping: Mapping = { type: 'user_id' };
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    h.sandbox.state.injectFaults([{ latencyMs: 300, path: 'users', count: 3 }]);
    const sync = await createSync(h.deps, project.id, { cohortId: big.id, targetId: target.id, cadence: 'one_time' });
    const first = await firstRunOf(h.deps, project.id, sync.id);
    for (;;) {
      const r = await h.store.runs.getById(first.id);
      if (r?.status !== 'queued') break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const requested: Run[] = [];
    for (let i = 0; i < 5; i++) requested.push(await runNow(h.deps, project.id, sync.id));
    expect(requested.map((r) => r.id)).toEqual(Array(5).fill(requested[0]!.id));
    expect(requested[0]!.id).not.toBe(first.id);
    // A change made meanwhile is delivered by the one extra run.
    await changeMembers(h.deps, project.id, big.id, { add: [{ user_id: 'late-joiner' }] });

    const done = await waitForRun(h.deps, requested[0]!.id);
    expect(done.status).toBe('succeeded');
    expect((await waitForRun(h.deps, first.id)).status).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 300)); // would a third run start?
    const runs = await h.store.runs.list(project.id, { syncId: sync.id }, 10, null);
    expect(runs.items).toHaveLength(2);
    expect(sandboxKeys(h.sandbox, dataImportKey, big.id)).toContain('e:late-joiner');
    await expectInStep(sync, dataImportKey, [mapping]);
    await changeMembers(h.deps, project.id, big.id, { remove: [{ user_id: 'late-joiner' }] });
  });
});
