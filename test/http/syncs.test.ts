// Syncs, runs, preview, exports and explain over HTTP, against the real store, Braze client and sandbox
// (docs/product.md §4–5, api.md "Syncs and runs").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { sorted, waitForRun } from '../support/flows.ts';
import { type Api, json, startApi } from './api-support.ts';
import { snapshotStore } from './store-snapshot.ts';

type ErrorBody = { error: { code: string; message: string; details?: { fields?: { path: string }[] } } };
type Run = {
  id: string;
  syncId: string;
  status: string;
  trigger: string;
  counts: Record<string, number>;
  skipReasons: Record<string, number>;
  requests: number;
  retries: number;
  progress: { done: number; total: number };
  error?: { code: string };
};
type Sync = {
  id: string;
  cohortId: string;
  targetId: string;
  cadence: string;
  cron?: string;
  paused: boolean;
  brazeCohortId: string;
  lastRun?: Run;
  nextRunAt?: string;
  notifyEmails: string[];
};

describe.each(ENGINES)('syncs and runs on $name', (engine) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(engine);
  });
  afterAll(async () => {
    await api?.close();
  });

  /** A project with the Default target on a fresh sandbox workspace and a cohort u1 (+d1), u2, and anonymous d3. */
  async function setup() {
    const { id } = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Shop' } }));
    const p = `/api/v1/projects/${id}`;
    const key = api.h.sandbox.state.createWorkspace();
    api.h.sandbox.state.seedUsers(key, [{ external_id: 'u1' }, { external_id: 'u2' }, { external_id: 'u3' }]);
    const dest = json<{ targets: { id: string }[] }>(
      await api.call('PUT', `${p}/destinations/braze`, {
        body: { enabled: true, endpoint: api.h.sandbox.url, dataImportKey: key, mapping: { type: 'user_id' } },
      }),
    );
    const cohort = json<{ id: string }>(
      await api.call('POST', `${p}/cohorts`, { body: { name: 'Buyers', type: 'static' } }),
    );
    await api.app.inject({
      method: 'PUT',
      url: `${p}/cohorts/${cohort.id}/members`,
      headers: { authorization: 'Bearer cs_admin_test-admin-token-0123456789', 'content-type': 'text/csv' },
      payload: 'user_id,device_id\nu1,d1\nu2,\n,d3\n',
    });
    return { projectId: id, p, key, targetId: dest.targets[0]!.id, cohortId: cohort.id };
  }
  const syncOf = async (p: string, body: Record<string, unknown>) => {
    const res = await api.call('POST', `${p}/syncs`, { body });
    expect(res.statusCode, res.body).toBe(201);
    return json<Sync>(res);
  };
  const finished = async (runId: string) => waitForRun(api.h.deps, runId);

  it('creates a sync to the Default target, runs it right away and reports the run', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily', notifyEmails: ['ops@example.com'] });
    expect(sync).toMatchObject({
      cohortId: s.cohortId,
      targetId: s.targetId,
      cadence: 'daily',
      paused: false,
      brazeCohortId: s.cohortId,
      notifyEmails: ['ops@example.com'],
      nextRunAt: expect.any(String),
    });
    expect(sync.lastRun).toMatchObject({ syncId: sync.id, trigger: 'schedule' });
    const run = await finished(sync.lastRun!.id);
    expect(run.status).toBe('succeeded');

    const read = json<Sync>(await api.call('GET', `${s.p}/syncs/${sync.id}`));
    expect(read.lastRun).toMatchObject({
      id: run.id,
      status: 'succeeded',
      counts: { added: 2, removed: 0, skipped: 1, failed: 0 },
      skipReasons: { no_user_id: 1 },
      progress: { done: 1, total: 1 },
    });
    const runRes = await api.call('GET', `${s.p}/runs/${run.id}`);
    expect(runRes.statusCode).toBe(200);
    expect(json<Run>(runRes)).toMatchObject({ id: run.id, status: 'succeeded', requests: 2, retries: 0 });
    expect(json<Run>(runRes)).not.toHaveProperty('error');
    expect(sorted(api.h.sandbox.state.cohortIdentifiers(s.key, s.cohortId).user_ids)).toEqual(['u1', 'u2']);
    expect(json<{ items: Sync[] }>(await api.call('GET', `${s.p}/syncs`)).items.map((x) => x.id)).toEqual([sync.id]);
    expect((await api.call('GET', `${s.p}/runs/run_nope`)).statusCode).toBe(404);
  });

  it('refuses syncs it cannot make: no Default target (404), Braze not enabled (422), unknown cohort (404), bad cadence or cron (400)', async () => {
    const { id } = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Bare' } }));
    const p = `/api/v1/projects/${id}`;
    const cohort = json<{ id: string }>(
      await api.call('POST', `${p}/cohorts`, { body: { name: 'C', type: 'static' } }),
    );
    const disabled = await api.call('POST', `${p}/syncs`, { body: { cohortId: cohort.id, cadence: 'daily' } });
    expect(disabled.statusCode).toBe(422);
    expect(json<ErrorBody>(disabled).error.code).toBe('braze_not_enabled');
    await api.call('PUT', `${p}/destinations/braze`, { body: { enabled: true } });
    await api.call('POST', `${p}/destinations/braze/targets`, {
      body: {
        name: 'Named',
        endpoint: api.h.sandbox.url,
        dataImportKey: api.h.sandbox.state.createWorkspace(),
        mapping: { type: 'user_id' },
      },
    });
    const noDefault = await api.call('POST', `${p}/syncs`, { body: { cohortId: cohort.id, cadence: 'daily' } });
    expect(noDefault.statusCode).toBe(404);
    expect(json<ErrorBody>(noDefault).error.code).toBe('no_default_target');
    expect(
      (await api.call('POST', `${p}/syncs`, { body: { cohortId: 'coh_nope', cadence: 'daily' } })).statusCode,
    ).toBe(404);
    const badCadence = await api.call('POST', `${p}/syncs`, {
      body: { cohortId: cohort.id, cadence: 'weekly', cron: 5 },
    });
    expect(
      json<ErrorBody>(badCadence)
        .error.details?.fields?.map((f) => f.path)
        .sort(),
    ).toEqual(['cadence', 'cron']);
    expect(json<{ items: unknown[] }>(await api.call('GET', `${p}/syncs`)).items).toEqual([]);
  });

  it('pauses, refuses to run while paused, resumes with a run, and reschedules', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    await finished(sync.lastRun!.id);
    const url = `${s.p}/syncs/${sync.id}`;

    expect(json<Sync>(await api.call('PATCH', url, { body: { paused: true } })).paused).toBe(true);
    const refused = await api.call('POST', `${url}/runs`);
    expect(refused.statusCode).toBe(409);
    expect(json<ErrorBody>(refused).error.code).toBe('sync_paused');

    const resumed = json<Sync>(await api.call('PATCH', url, { body: { paused: false } }));
    expect(resumed.paused).toBe(false);
    expect(resumed.lastRun).toMatchObject({ trigger: 'resume' });
    await finished(resumed.lastRun!.id);

    const cron = json<Sync>(await api.call('PATCH', url, { body: { cron: '30 3 * * *' } }));
    expect(cron).toMatchObject({ cadence: 'cron', cron: '30 3 * * *' });
    expect(new Date(cron.nextRunAt!).toISOString()).toMatch(/T03:30:00\.000Z$/);
    const bad = await api.call('PATCH', url, { body: { cron: 'every tuesday' } });
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorBody>(bad).error.details?.fields?.[0]?.path).toBe('cron');
    const missing = await api.call('PATCH', url, { body: { cadence: 'cron', cron: null } });
    expect(missing.statusCode).toBe(400);
    const hourly = json<Sync>(
      await api.call('PATCH', url, { body: { cadence: 'hourly', notifyEmails: ['a@example.com'] } }),
    );
    expect(hourly).toMatchObject({ cadence: 'hourly', notifyEmails: ['a@example.com'] });
    expect(hourly).not.toHaveProperty('cron');
    expect(new Date(hourly.nextRunAt!).getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
  });

  it('runs now (202) and lists runs newest first with filters and pages', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'one_time' });
    await finished(sync.lastRun!.id);
    const now = await api.call('POST', `${s.p}/syncs/${sync.id}/runs`);
    expect(now.statusCode).toBe(202);
    const second = json<Run>(now);
    expect(second).toMatchObject({ syncId: sync.id, trigger: 'manual' });
    expect((await finished(second.id)).counts).toMatchObject({ added: 0, removed: 0 });

    const runs = `${s.p}/syncs/${sync.id}/runs`;
    expect(json<{ items: Run[] }>(await api.call('GET', runs)).items.map((r) => r.id)).toEqual([
      second.id,
      sync.lastRun!.id,
    ]);
    expect(json<{ items: Run[] }>(await api.call('GET', `${runs}?status=failed`)).items).toEqual([]);
    expect(
      json<{ items: Run[] }>(
        await api.call('GET', `${runs}?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`),
      ).items,
    ).toEqual([]);
    expect(json<{ items: Run[] }>(await api.call('GET', `${runs}?to=2100-01-01T00:00:00%2B02:00`)).items).toHaveLength(
      2,
    );
    const page1 = json<{ items: Run[]; nextCursor: string }>(await api.call('GET', `${runs}?limit=1`));
    const page2 = json<{ items: Run[]; nextCursor: string | null }>(
      await api.call('GET', `${runs}?limit=1&cursor=${encodeURIComponent(page1.nextCursor)}`),
    );
    expect([...page1.items, ...page2.items].map((r) => r.id)).toEqual([second.id, sync.lastRun!.id]);
    expect(page2.nextCursor).toBeNull();
    expect((await api.call('GET', `${runs}?status=done&from=yesterday`)).statusCode).toBe(400);
  });

  it('previews the next run without sending anything or changing stored state, and the run then does that', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    await finished(sync.lastRun!.id);
    await api.call('POST', `${s.p}/cohorts/${s.cohortId}/members`, {
      body: { add: [{ user_id: 'u3', device_id: 'd33' }, { device_id: 'd4' }], remove: [{ user_id: 'u2' }] },
    });
    await api.h.queue.idle();

    api.h.sandbox.state.clearRequests();
    const before = await snapshotStore(api.h.store);
    const res = await api.call('GET', `${s.p}/syncs/${sync.id}/preview`);
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      syncId: sync.id,
      paused: false,
      add: { count: 1, sample: [{ kind: 'external_id', value: 'u3', member: { user_id: 'u3', device_ids: ['d33'] } }] },
      remove: { count: 1, sample: [{ kind: 'external_id', value: 'u2', member: { user_id: 'u2', device_ids: [] } }] },
      skipped: {
        count: 2,
        reasons: { no_user_id: 2 },
        sample: [
          { member: { user_id: null, device_ids: ['d3'] }, reason: 'no_user_id' },
          { member: { user_id: null, device_ids: ['d4'] }, reason: 'no_user_id' },
        ],
      },
      batches: 1,
      requests: 1,
      renames: false,
    });
    expect(api.h.sandbox.state.requests()).toEqual([]);
    expect(await snapshotStore(api.h.store)).toEqual(before);

    const run = await finished(json<Run>(await api.call('POST', `${s.p}/syncs/${sync.id}/runs`)).id);
    // Planned from the changes, the run counts the skipped among the changed members (d4); the preview, which
    // plans in full, every skipped member (docs/syncs.md, "Planning: from the changes or in full").
    expect(run).toMatchObject({ plannedFrom: 'changes', reconcile: false });
    expect(run.counts).toEqual({ added: 1, removed: 1, skipped: 1, failed: 0 });
    expect(run.requests).toBe(1);
    expect(sorted(api.h.sandbox.state.cohortIdentifiers(s.key, s.cohortId).user_ids)).toEqual(['u1', 'u3']);

    // A full reconcile, asked for, re-reads every member: nothing left to send, both skipped members counted.
    const full = await finished(
      json<Run>(await api.call('POST', `${s.p}/syncs/${sync.id}/runs`, { body: { reconcile: true } })).id,
    );
    expect(full).toMatchObject({ plannedFrom: 'cohort', reconcile: true });
    expect(full.counts).toEqual({ added: 0, removed: 0, skipped: 2, failed: 0 });
    const bad = await api.call('POST', `${s.p}/syncs/${sync.id}/runs`, { body: { reconcile: 'yes' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('reconcile');
  });

  it('exports a run member by member: CSV, filtered JSON, and its Braze requests with keys hidden', async () => {
    const s = await setup();
    // Braze refuses the membership request once: that batch fails and its members say so.
    api.h.sandbox.state.injectFaults([{ status: 400, path: 'users' }]);
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    const failedRun = await finished(sync.lastRun!.id);
    expect(failedRun.counts).toMatchObject({ added: 0, failed: 2, skipped: 1 });

    const csv = await api.call('GET', `${s.p}/runs/${failedRun.id}/members.csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trimEnd().split('\n');
    expect(lines[0]).toBe('user_id,device_id,operation,identifier_kind,identifier_value,outcome,reason');
    expect(lines.slice(1, 3).map((l) => l.split(',').slice(0, 6).join(','))).toEqual([
      'u1,d1,add,external_id,u1,failed',
      'u2,,add,external_id,u2,failed',
    ]);
    expect(lines[1]).toMatch(/,failed,.+/);
    expect(lines[3]).toBe(',d3,skip,,,skipped,no_user_id');
    expect(lines).toHaveLength(4);

    const good = await finished(json<Run>(await api.call('POST', `${s.p}/syncs/${sync.id}/runs`)).id);
    expect(good.counts).toMatchObject({ added: 2, failed: 0 });
    const members = `${s.p}/runs/${good.id}/members`;
    expect(json(await api.call('GET', `${members}?outcome=acked&q=U2`))).toEqual({
      items: [
        {
          member: { user_id: 'u2', device_id: null },
          operation: 'add',
          identifier: { kind: 'external_id', value: 'u2' },
          outcome: 'acked',
          reason: null,
        },
      ],
      nextCursor: null,
    });
    expect(json<{ items: unknown[] }>(await api.call('GET', `${members}?outcome=skipped`)).items).toEqual([
      {
        member: { user_id: null, device_id: 'd3' },
        operation: 'skip',
        identifier: null,
        outcome: 'skipped',
        reason: 'no_user_id',
      },
    ]);
    const p1 = json<{ items: { identifier: { value: string } | null }[]; nextCursor: string }>(
      await api.call('GET', `${members}?limit=2`),
    );
    const p2 = json<{ items: { operation: string }[]; nextCursor: string | null }>(
      await api.call('GET', `${members}?limit=2&cursor=${encodeURIComponent(p1.nextCursor)}`),
    );
    expect(p1.items.map((i) => i.identifier?.value)).toEqual(['u1', 'u2']);
    expect(p2.items.map((i) => i.operation)).toEqual(['skip']);

    const requests = await api.call('GET', `${s.p}/runs/${good.id}/requests`);
    expect(requests.statusCode).toBe(200);
    const items = json<{ items: { endpoint: string; status: number; request: Record<string, unknown> }[] }>(
      requests,
    ).items;
    expect(items).toHaveLength(good.requests);
    expect(items.every((i) => i.status >= 200 && i.status < 300)).toBe(true);
    expect(items[0]!.request).toMatchObject({ client_secret: '[redacted]', partner_api_key: '[redacted]' });
    expect(requests.body).not.toContain(s.key);
  });

  it('deletes a sync, with removeMembers emptying what it put in Braze', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    await finished(sync.lastRun!.id);
    expect(api.h.sandbox.state.cohortIdentifiers(s.key, s.cohortId).user_ids).toHaveLength(2);

    const res = await api.call('DELETE', `${s.p}/syncs/${sync.id}?removeMembers=true`);
    expect(res.statusCode).toBe(204);
    const removal = (await api.h.store.runs.list(s.projectId, { syncId: sync.id }, 1, null)).items[0]!;
    expect(removal).toMatchObject({ mode: 'remove_all', trigger: 'delete' });
    expect((await finished(removal.id)).status).toBe('succeeded');
    expect(api.h.sandbox.state.cohortIdentifiers(s.key, s.cohortId).user_ids).toEqual([]);
    expect((await api.call('GET', `${s.p}/syncs/${sync.id}`)).statusCode).toBe(404);

    // Without removeMembers the sync goes at once and Braze keeps what it has.
    const other = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    await finished(other.lastRun!.id);
    expect((await api.call('DELETE', `${s.p}/syncs/${other.id}`)).statusCode).toBe(204);
    expect((await api.call('GET', `${s.p}/syncs/${other.id}`)).statusCode).toBe(404);
    expect(sorted(api.h.sandbox.state.cohortIdentifiers(s.key, s.cohortId).user_ids)).toEqual(['u1', 'u2']);
  });

  it('explains a user by user_id or device_id, and asks for one of them', async () => {
    const s = await setup();
    const sync = await syncOf(s.p, { cohortId: s.cohortId, cadence: 'daily' });
    await finished(sync.lastRun!.id);
    const byUser = await api.call('GET', `${s.p}/explain?user_id=u1`);
    expect(byUser.statusCode).toBe(200);
    expect(json(byUser)).toMatchObject({
      profile: { userId: 'u1' },
      cohorts: [{ cohortId: s.cohortId, member: true }],
    });
    const byDevice = await api.call('GET', `${s.p}/explain?device_id=d3`);
    expect(byDevice.statusCode).toBe(200);
    expect(json(byDevice)).toMatchObject({ profile: { userId: null, deviceIds: ['d3'] } });
    const neither = await api.call('GET', `${s.p}/explain`);
    expect(neither.statusCode).toBe(400);
    expect(json<ErrorBody>(neither).error.code).toBe('invalid_input');
  });
});
