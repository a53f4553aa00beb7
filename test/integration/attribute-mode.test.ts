// The custom_attribute delivery mode end to end on both engines: the real store, the run executor, the Braze
// client and the sandbox's /users/track over HTTP (docs/design.md, "Custom attribute").
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import type { AppError } from '../../src/app/errors.ts';
import { previewDraftSync } from '../../src/app/preview.ts';
import { runMembersCsv } from '../../src/app/run-export.ts';
import { deleteSync } from '../../src/app/sync-admin.ts';
import { createSync, runNow, segmentFilterOf } from '../../src/app/syncs.ts';
import { createTarget, testTarget } from '../../src/app/targets.ts';
import type { Run } from '../../src/domain/model.ts';
import { ENGINES } from '../support/engines.ts';
import {
  attributeTarget,
  firstRunOf,
  projectWithBraze,
  sandboxTarget,
  trackRequests,
  waitForRun,
} from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { ackedKeys } from '../support/sync-checks.ts';

const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => ({ external_id: `${prefix}${i}` }));
const ids = (xs: { external_id?: string }[]) => xs.map((x) => x.external_id).sort();

describe.each(ENGINES)('custom_attribute delivery on $name', (engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(engine);
  });
  afterEach(async () => {
    await h?.close();
  });

  it('adds the sync value to existing profiles only, 75 objects per request, and removes it when members leave', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, workspace } = await attributeTarget(h, project.id, { type: 'user_id' }, { users: users(150) });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Power Users' });
    // 160 members: 150 exist in Braze, 10 do not (Braze skips those silently; they are "sent", never created).
    await changeMembers(h.deps, project.id, cohort.id, {
      add: [...users(150), ...users(10, 'ghost')].map((u) => ({ user_id: u.external_id })),
    });
    // The preview counts requests as the run packs them: 75 users each, and no audience to create or rename.
    const preview = await previewDraftSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id });
    expect(preview).toMatchObject({ add: { count: 160 }, batches: 3, requests: 3, renames: false });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    expect(sync.attribute).toEqual({ name: 'cohorts', value: 'power-users' });
    expect(await segmentFilterOf(h.deps, sync)).toBe('Custom attribute cohorts includes value power-users');

    const run = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(run).toMatchObject({ status: 'succeeded', counts: { added: 160, failed: 0 }, identifiers: { added: 160 } });
    const sent = trackRequests(h.sandbox);
    expect(sent.map((r) => r.attributes.length)).toEqual([75, 75, 10]);
    for (const object of sent.flatMap((r) => r.attributes)) {
      expect(object._update_existing_only).toBe(true);
      expect(object.cohorts).toEqual({ add: ['power-users'] });
      expect(Object.keys(object).sort()).toEqual(['_update_existing_only', 'cohorts', 'external_id']);
    }
    const inSegment = h.sandbox.state.workspace(workspace).attributeSegment('cohorts', { includes: 'power-users' });
    expect(inSegment.size).toBe(150);
    expect(h.sandbox.state.workspace(workspace).trackTotals).toEqual({ skippedUnknown: 10, created: 0 });

    // Renaming the cohort rewrites nothing: the value was fixed when the sync was created.
    await h.deps.store.cohorts.update(project.id, cohort.id, { name: 'Renamed' }, new Date().toISOString());
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'u0' }, { user_id: 'u1' }] });
    h.sandbox.state.clearRequests();
    const next = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(next).toMatchObject({ status: 'succeeded', counts: { added: 0, removed: 2 } });
    expect(trackRequests(h.sandbox).flatMap((r) => r.attributes)).toEqual([
      { external_id: 'u0', _update_existing_only: true, cohorts: { remove: ['power-users'] } },
      { external_id: 'u1', _update_existing_only: true, cohorts: { remove: ['power-users'] } },
    ]);
    expect(h.sandbox.state.workspace(workspace).attributeSegment('cohorts', { includes: 'power-users' }).size).toBe(
      148,
    );
  });

  it('boolean style sets one attribute per sync true, then false on removal; alias mappings use user_alias', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, workspace } = await attributeTarget(
      h,
      project.id,
      { type: 'user_alias', aliasLabel: 'amp_id' },
      {
        attribute: { style: 'boolean' },
        users: [
          { aliases: [{ alias_name: 'a1', alias_label: 'amp_id' }] },
          { aliases: [{ alias_name: 'a2', alias_label: 'amp_id' }] },
        ],
      },
    );
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'VIP (EU)' });
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'a1' }, { user_id: 'a2' }] });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    expect(sync.attribute).toEqual({ name: 'in_vip_eu', value: null });
    expect(await segmentFilterOf(h.deps, sync)).toBe('Custom attribute in_vip_eu is true');
    await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(trackRequests(h.sandbox)[0]?.attributes[0]).toEqual({
      user_alias: { alias_name: 'a1', alias_label: 'amp_id' },
      _update_existing_only: true,
      in_vip_eu: true,
    });
    const ws = h.sandbox.state.workspace(workspace);
    expect(ws.attributeSegment('in_vip_eu', { equals: true }).size).toBe(2);

    // Deleting the sync with removeMembers sets the attribute false everywhere it set it true.
    const removal = await deleteSync(h.deps, project.id, sync.id, { removeMembers: true });
    expect((await waitForRun(h.deps, removal!.id)).status).toBe('succeeded');
    expect(ws.attributeSegment('in_vip_eu', { equals: true }).size).toBe(0);
    expect(ws.attributeSegment('in_vip_eu', { equals: false }).size).toBe(2);
    expect(await h.deps.store.syncs.get(project.id, sync.id)).toBeUndefined();
  });

  it('fails only the objects a 201 errors[] names, with Braze’s type as the reason, and resends them next run', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, workspace } = await attributeTarget(h, project.id, { type: 'user_id' }, { users: users(3) });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Partial' });
    await changeMembers(h.deps, project.id, cohort.id, { add: users(3).map((u) => ({ user_id: u.external_id })) });
    h.sandbox.state.injectFaults([
      {
        path: 'track',
        status: 201,
        body: {
          message: 'success',
          attributes_processed: 2,
          errors: [{ type: "'external_id' must be fewer than 988 bytes", input_array: 'attributes', index: 1 }],
        },
      },
    ]);
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    const run = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(run).toMatchObject({ status: 'succeeded', counts: { added: 2, failed: 1 } });
    let csv = '';
    for await (const chunk of runMembersCsv(h.deps, run)) csv += chunk;
    expect(csv).toContain("u1,,add,external_id,u1,failed,'external_id' must be fewer than 988 bytes");
    expect(await ackedKeys(h.store, sync.audienceRef)).toEqual(['e:u0', 'e:u2']);

    h.sandbox.state.clearRequests();
    const next = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(next).toMatchObject({ status: 'succeeded', counts: { added: 1, failed: 0 } });
    expect(trackRequests(h.sandbox).flatMap((r) => r.attributes.map((a) => a.external_id))).toEqual(['u1']);
    expect(
      ids(h.sandbox.state.workspace(workspace).attributeSegment('cohorts', { includes: 'partial' }).items),
    ).toEqual(['u1']);
  });

  it('retries 429 (X-Ratelimit-Retry-After) and 500, and fails the run plainly on 401 and 403', async () => {
    const project = await projectWithBraze(h.deps);
    const { target, workspace } = await attributeTarget(h, project.id, { type: 'user_id' }, { users: users(2) });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Flaky' });
    await changeMembers(h.deps, project.id, cohort.id, { add: users(2).map((u) => ({ user_id: u.external_id })) });
    h.sandbox.state.injectFaults([
      { path: 'track', status: 429, headers: { 'X-Ratelimit-Retry-After': '0', 'X-RateLimit-Reset': '0' } },
      { path: 'track', status: 500 },
    ]);
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    const run = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(run).toMatchObject({ status: 'succeeded', requests: 3, retries: 2, counts: { added: 2 } });
    expect(h.sandbox.state.workspace(workspace).attributeSegment('cohorts', { includes: 'flaky' }).size).toBe(2);

    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'u0' }] });
    h.sandbox.state.injectFaults([{ path: 'track', status: 403, body: { message: 'Access Denied' } }]);
    const denied = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(denied).toMatchObject({ status: 'failed', retries: 0, error: { code: 'braze_credentials' } });
    expect(denied.error?.message).toMatch(/lacks the users\.track permission.*cannot be edited.*create a new key/);

    h.sandbox.state.injectFaults([{ path: 'track', status: 401, body: { message: 'Invalid API Key' } }]);
    const bad = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'braze_credentials' } });
    expect(bad.error?.message).toMatch(/REST API key \(ending …\w{4}\) is wrong.*users\.track/);
  });

  it('refuses device_id mappings and fallbacks that reach a device id, saying why', async () => {
    const project = await projectWithBraze(h.deps);
    const attempt = (mapping: Parameters<typeof createTarget>[2]['mapping']) =>
      createTarget(h.deps, project.id, {
        name: `t-${Math.random()}`,
        endpoint: h.sandbox.url,
        delivery: 'custom_attribute',
        restApiKey: 'rest-key-0000-0000-0000',
        mapping,
      }).then(
        () => null,
        (e: AppError) => e,
      );
    for (const mapping of [
      { type: 'device_id' as const },
      { type: 'user_id' as const, fallbacks: [{ type: 'device_id' as const }] },
    ]) {
      const error = await attempt(mapping);
      expect(error).toMatchObject({ status: 422, code: 'mapping_not_supported' });
      expect(error?.message).toMatch(
        /cannot update a profile only by external_id or user alias, never by device id|never by device id/,
      );
    }
    expect(await attempt({ type: 'user_id', fallbacks: [{ type: 'user_alias', aliasLabel: 'email' }] })).toBeNull();
  });

  it('tests a REST key without changing any profile: ok, wrong key, and a key without users.track', async () => {
    const project = await projectWithBraze(h.deps);
    const good = await attributeTarget(h, project.id, { type: 'user_id' }, { users: users(1) });
    const noTrack = await attributeTarget(h, project.id, { type: 'user_id' }, { permissions: ['users.export.ids'] });
    expect(await testTarget(h.deps, project.id, good.target.id)).toMatchObject({ ok: true });
    const denied = await testTarget(h.deps, project.id, noTrack.target.id);
    expect(denied.ok).toBe(false);
    expect(denied.message).toMatch(/lacks the users\.track permission/);
    const wrong = await createTarget(h.deps, project.id, {
      name: 'wrong key',
      endpoint: h.sandbox.url,
      delivery: 'custom_attribute',
      restApiKey: 'not-a-key-of-the-sandbox-9Z9Z',
      mapping: { type: 'user_id' },
    });
    const refused = await testTarget(h.deps, project.id, wrong.id);
    expect(refused).toMatchObject({ ok: false });
    expect(refused.message).toContain('…9Z9Z');
    expect(refused.message).not.toContain('not-a-key-of-the-sandbox-9Z9Z');
    expect(
      h.sandbox.state
        .workspace(good.workspace)
        .profiles()
        .every((p) => !p.custom_attributes),
    ).toBe(true);
  });

  it('runs both delivery modes side by side for one cohort in one project', async () => {
    const project = await projectWithBraze(h.deps);
    const partner = await sandboxTarget(h, project.id, { type: 'user_id' }, { name: 'partner' });
    h.sandbox.state.seedUsers(partner.dataImportKey, users(3));
    const attribute = await attributeTarget(h, project.id, { type: 'user_id' }, { users: users(3), name: 'attribute' });
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Both' });
    await changeMembers(h.deps, project.id, cohort.id, { add: users(3).map((u) => ({ user_id: u.external_id })) });
    const a = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: partner.target.id,
      cadence: 'daily',
    });
    const b = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: attribute.target.id,
      cadence: 'daily',
      attribute: { value: 'both-modes' },
    });
    const runs: Run[] = [
      await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, a.id)).id),
      await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, b.id)).id),
    ];
    for (const run of runs) expect(run).toMatchObject({ status: 'succeeded', counts: { added: 3 } });
    expect(a.audienceRef).not.toBe(b.audienceRef);
    expect(h.sandbox.state.cohortUsers(partner.dataImportKey, cohort.id).size).toBe(3);
    expect(
      h.sandbox.state.workspace(attribute.workspace).attributeSegment('cohorts', { includes: 'both-modes' }).size,
    ).toBe(3);

    // A second sync may not take a value already written by another sync of the same target.
    const other = await createStaticCohort(h.deps, project.id, { name: 'Other' });
    await expect(
      createSync(h.deps, project.id, {
        cohortId: other.id,
        targetId: attribute.target.id,
        cadence: 'daily',
        attribute: { value: 'both-modes' },
      }),
    ).rejects.toMatchObject({ status: 409, code: 'attribute_taken' });
  });
});
