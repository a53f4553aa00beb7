// Cohorts and their members over HTTP (docs/product.md §2, api.md "Cohorts"), CSV uploads included.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

type ErrorBody = {
  error: { code: string; message: string; details?: { fields?: { path: string }[]; syncs?: string[] } };
};
type Cohort = { id: string; name: string; type: string; size: number; createdAt: string; updatedAt: string };
type Member = { user_id?: string; device_id?: string; device_ids: string[]; properties: Record<string, unknown> };

describe.each(ENGINES)('cohorts and members on $name', (engine) => {
  let api: Api;
  const changed: string[] = [];
  beforeAll(async () => {
    api = await startApi(engine, {
      context: { onMembershipChanged: async (projectId, cohortId) => void changed.push(`${projectId}/${cohortId}`) },
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  const newProject = async () => {
    const { id } = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'P' } }));
    return { id, p: `/api/v1/projects/${id}` };
  };
  const newCohort = async (p: string, name = 'Buyers') =>
    json<Cohort>(await api.call('POST', `${p}/cohorts`, { body: { name, type: 'static' } }));
  const csv = (p: string, cohortId: string, payload: string | Readable) =>
    api.app.inject({
      method: 'PUT',
      url: `${p}/cohorts/${cohortId}/members`,
      headers: { authorization: `Bearer ${'cs_admin_test-admin-token-0123456789'}`, 'content-type': 'text/csv' },
      payload,
    });

  it('creates, lists, renames and reads static cohorts; behavioral ones are validated and evaluated on save', async () => {
    const { p } = await newProject();
    const created = await api.call('POST', `${p}/cohorts`, { body: { name: 'Buyers', type: 'static' } });
    expect(created.statusCode).toBe(201);
    const cohort = json<Cohort>(created);
    expect(cohort).toMatchObject({ name: 'Buyers', type: 'static', size: 0 });
    const renamed = await api.call('PATCH', `${p}/cohorts/${cohort.id}`, { body: { name: 'Big buyers' } });
    expect(renamed.statusCode).toBe(200);
    expect(json<Cohort>(renamed)).toMatchObject({ id: cohort.id, name: 'Big buyers' });
    expect(json(await api.call('GET', `${p}/cohorts/${cohort.id}`))).toMatchObject({ name: 'Big buyers' });
    expect(json<{ items: Cohort[] }>(await api.call('GET', `${p}/cohorts`)).items.map((c) => c.id)).toEqual([
      cohort.id,
    ]);

    // Behavioral cohorts: a bad definition is refused naming the node; a good one is evaluated on save.
    const bad = await api.call('POST', `${p}/cohorts`, {
      body: {
        name: 'Active',
        type: 'behavioral',
        definition: { all: [{ any: [{ event: 'Open', count: { op: 'most' } }] }] },
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorBody>(bad).error.details?.fields?.map((f) => f.path)).toEqual([
      'definition.all[0].any[0].count.op',
      'definition.all[0].any[0].count.value',
    ]);
    const definition = { all: [{ any: [{ inCohort: cohort.id }] }] };
    const behavioral = await api.call('POST', `${p}/cohorts`, {
      body: { name: 'Active', type: 'behavioral', definition },
    });
    expect(behavioral.statusCode).toBe(201);
    const active = json<Cohort & { definition: unknown; summary: string }>(behavioral);
    expect(active).toMatchObject({
      type: 'behavioral',
      size: 0,
      definition,
      summary: `Users who is in cohort "${cohort.id}"`,
    });
    const estimate = await api.call('POST', `${p}/cohorts/estimate`, { body: { definition } });
    expect(json(estimate)).toEqual({ size: 0, summary: `Users who is in cohort "Big buyers"` });
    const history = json<{ points: { at: string; size: number }[] }>(
      await api.call('GET', `${p}/cohorts/${active.id}/size-history`),
    );
    expect(history.points.map((pt) => pt.size)).toEqual([0]);
    const badRange = await api.call('GET', `${p}/cohorts/${active.id}/size-history?from=yesterday`);
    expect(badRange.statusCode).toBe(400);
    expect(json<ErrorBody>(badRange).error.details?.fields?.[0]?.path).toBe('from');
    const badType = await api.call('POST', `${p}/cohorts`, { body: { name: 'X', type: 'dynamic' } });
    expect(badType.statusCode).toBe(400);
    expect(json<ErrorBody>(badType).error.details?.fields?.[0]?.path).toBe('type');
    const defOnStatic = await api.call('PATCH', `${p}/cohorts/${cohort.id}`, { body: { definition: { all: [] } } });
    expect(defOnStatic.statusCode).toBe(422);
  });

  it('adds and removes members, reporting invalid ones by index and telling real-time syncs', async () => {
    const { id, p } = await newProject();
    const cohort = await newCohort(p);
    changed.length = 0;
    const res = await api.call('POST', `${p}/cohorts/${cohort.id}/members`, {
      body: {
        add: [
          { user_id: 'u1', properties: { plan: 'pro' } },
          { device_id: 'd2' },
          { user_id: 7 },
          {},
          { user_id: 'a\u0000b' },
        ],
        remove: [{ user_id: 'ghost' }],
      },
    });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      added: 2,
      removed: 0,
      invalid: [
        { index: 2, op: 'add', reason: 'user_id must be a string' },
        { index: 3, op: 'add', reason: 'a member needs a user_id or a device_id' },
        { index: 4, op: 'add', reason: 'user_id contains a NUL character' },
      ],
    });
    expect(changed).toEqual([`${id}/${cohort.id}`]);
    expect(json<Cohort>(await api.call('GET', `${p}/cohorts/${cohort.id}`)).size).toBe(2);
    const removed = json(
      await api.call('POST', `${p}/cohorts/${cohort.id}/members`, { body: { remove: [{ user_id: 'u1' }] } }),
    );
    expect(removed).toMatchObject({ added: 0, removed: 1 });
  });

  it('replaces members from a CSV: bad rows by line, good rows kept, properties from other columns', async () => {
    const { p } = await newProject();
    const cohort = await newCohort(p);
    const res = await csv(p, cohort.id, 'user_id,device_id,plan\nu1,d1,pro\nu2,,free\n,,\nu3,d3\n"u4",d4,"a, b"\n');
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      size: 3,
      accepted: 3,
      rejected: [
        { line: 4, reason: 'a member needs a user_id or a device_id' },
        { line: 5, reason: 'expected 3 columns, found 2' },
      ],
      added: 3,
      removed: 0,
    });
    const members = json<{ items: Member[]; nextCursor: string | null }>(
      await api.call('GET', `${p}/cohorts/${cohort.id}/members`),
    );
    expect(members.items).toEqual([
      { user_id: 'u1', device_id: 'd1', device_ids: ['d1'], properties: { plan: 'pro' } },
      { user_id: 'u2', device_ids: [], properties: { plan: 'free' } },
      { user_id: 'u4', device_id: 'd4', device_ids: ['d4'], properties: { plan: 'a, b' } },
    ]);

    // A second upload replaces: u1 stays, the others leave, u5 joins.
    const again = json(await csv(p, cohort.id, 'user_id\nu1\nu5\n'));
    expect(again).toMatchObject({ size: 2, accepted: 2, added: 1, removed: 2 });

    // A header without an id column is refused and changes nothing.
    const bad = await csv(p, cohort.id, 'email,plan\na@b.c,pro\n');
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorBody>(bad).error.details?.fields?.[0]?.path).toBe('csv');
    expect(json<Cohort>(await api.call('GET', `${p}/cohorts/${cohort.id}`)).size).toBe(2);
  });

  it('replaces members from a JSON list too', async () => {
    const { p } = await newProject();
    const cohort = await newCohort(p);
    const res = await api.call('PUT', `${p}/cohorts/${cohort.id}/members`, {
      body: { members: [{ user_id: 'u1' }, { nope: true }, { device_id: 'd2' }] },
    });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({
      size: 2,
      accepted: 2,
      rejected: [{ line: 2, reason: 'a member needs a user_id or a device_id' }],
    });
  });

  it('streams a CSV far larger than the JSON body limit: it is never buffered as a body', async () => {
    const small = await startApi(engine, { context: { bodyLimitBytes: 4096 } });
    try {
      const { id } = json<{ id: string }>(await small.call('POST', '/api/v1/projects', { body: { name: 'Big' } }));
      const cohort = json<Cohort>(
        await small.call('POST', `/api/v1/projects/${id}/cohorts`, { body: { name: 'Everyone', type: 'static' } }),
      );
      const rows = 3_000; // ~80 kB against a 4 kB body limit
      // Produced lazily: the upload never exists in memory as a whole, here or in the server.
      const source = Readable.from(
        (function* () {
          yield 'user_id,device_id,plan\n';
          for (let i = 0; i < rows; i += 500)
            yield Array.from({ length: 500 }, (_, j) => `user-${i + j},dev-${i + j},p${(i + j) % 3}`).join('\n') + '\n';
        })(),
      );
      const res = await small.app.inject({
        method: 'PUT',
        url: `/api/v1/projects/${id}/cohorts/${cohort.id}/members`,
        headers: { authorization: 'Bearer cs_admin_test-admin-token-0123456789', 'content-type': 'text/csv' },
        payload: source,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res)).toMatchObject({ size: rows, accepted: rows, rejected: [] });
      // The same bytes as JSON would be refused: the CSV path really does not go through the body limit.
      const asJson = await small.call('PUT', `/api/v1/projects/${id}/cohorts/${cohort.id}/members`, {
        body: { members: Array.from({ length: 200 }, (_, i) => ({ user_id: `user-${i}` })) },
      });
      expect(asJson.statusCode).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('refuses a CSV replace whose every row is rejected, leaving the cohort as it was', async () => {
    const { p } = await newProject();
    const cohort = await newCohort(p);
    expect((await csv(p, cohort.id, 'user_id\nkeep-1\nkeep-2\n')).statusCode).toBe(200);
    const res = await csv(p, cohort.id, 'user_id,device_id,plan\n,,gold\n,,silver\nx,y\n');
    expect(res.statusCode, res.body).toBe(400);
    const body = json<ErrorBody>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toContain('every row was rejected');
    expect(body.error.details?.fields?.map((f) => f.path)).toEqual(['line 2', 'line 3', 'line 4']);
    const members = json<{ items: Member[] }>(await api.call('GET', `${p}/cohorts/${cohort.id}/members`));
    expect(members.items.map((m) => m.user_id)).toEqual(['keep-1', 'keep-2']);
    expect(json<Cohort>(await api.call('GET', `${p}/cohorts/${cohort.id}`)).size).toBe(2);
    // The same through JSON; a header-only CSV still empties the cohort on purpose.
    const viaJson = await api.call('PUT', `${p}/cohorts/${cohort.id}/members`, {
      body: { members: [{}, { plan: 1 }] },
    });
    expect(viaJson.statusCode, viaJson.body).toBe(400);
    const emptied = await csv(p, cohort.id, 'user_id\n');
    expect(json(emptied)).toMatchObject({ size: 0, accepted: 0, removed: 2 });
  });

  it('limits a CSV upload by size and by record, answering 413 and changing nothing', async () => {
    const limited = await startApi(engine, { context: { csvLimits: { maxBytes: 2_000, maxRecordBytes: 200 } } });
    try {
      const { id } = json<{ id: string }>(await limited.call('POST', '/api/v1/projects', { body: { name: 'L' } }));
      const cohort = json<Cohort>(
        await limited.call('POST', `/api/v1/projects/${id}/cohorts`, { body: { name: 'Capped', type: 'static' } }),
      );
      const put = (payload: string | Readable) =>
        limited.app.inject({
          method: 'PUT',
          url: `/api/v1/projects/${id}/cohorts/${cohort.id}/members`,
          headers: { authorization: 'Bearer cs_admin_test-admin-token-0123456789', 'content-type': 'text/csv' },
          payload,
        });
      expect((await put('user_id\nfirst\n')).statusCode).toBe(200);
      // ~6 kB in chunks against a 2 kB limit: refused once the limit is passed, the import rolled back.
      const big = Readable.from(
        (function* () {
          yield 'user_id\n';
          for (let i = 0; i < 600; i += 100)
            yield `${Array.from({ length: 100 }, (_, j) => `u-${i + j}`).join('\n')}\n`;
        })(),
      );
      const tooBig = await put(big);
      expect(tooBig.statusCode, tooBig.body).toBe(413);
      expect(json<ErrorBody>(tooBig).error).toMatchObject({ code: 'payload_too_large' });
      expect(json<ErrorBody>(tooBig).error.message).toContain('CSV_MAX_BYTES');
      // One record longer than 200 characters (a property), in a small file.
      const longRecord = await put(`user_id,note\nok,short\nbad,${'x'.repeat(300)}\nlater,fine\n`);
      expect(longRecord.statusCode, longRecord.body).toBe(413);
      expect(json<ErrorBody>(longRecord).error).toMatchObject({ code: 'record_too_large' });
      expect(json<ErrorBody>(longRecord).error.message).toMatch(/^line 3: .*CSV_MAX_RECORD_BYTES/);
      const members = json<{ items: Member[] }>(
        await limited.call('GET', `/api/v1/projects/${id}/cohorts/${cohort.id}/members`),
      );
      expect(members.items.map((m) => m.user_id)).toEqual(['first']);
    } finally {
      await limited.close();
    }
  });

  it('pages members with a sealed cursor', async () => {
    const { p } = await newProject();
    const cohort = await newCohort(p);
    await csv(p, cohort.id, 'user_id\na\nb\nc\n');
    const first = json<{ items: Member[]; nextCursor: string }>(
      await api.call('GET', `${p}/cohorts/${cohort.id}/members?limit=2`),
    );
    expect(first.items.map((m) => m.user_id)).toEqual(['a', 'b']);
    const second = json<{ items: Member[]; nextCursor: string | null }>(
      await api.call('GET', `${p}/cohorts/${cohort.id}/members?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`),
    );
    expect(second).toEqual({ items: [expect.objectContaining({ user_id: 'c' })], nextCursor: null });
    // A cursor edited by hand is refused rather than passed to the store.
    const [raw, sig] = first.nextCursor.split('.');
    const forged = `${Buffer.from('"junk"').toString('base64url')}.${sig}`;
    for (const cursor of [forged, `${raw}.000000000000000000000000`]) {
      const res = await api.call('GET', `${p}/cohorts/${cohort.id}/members?cursor=${encodeURIComponent(cursor)}`);
      expect(res.statusCode).toBe(400);
    }
  });

  it('deletes a cohort (204) unless syncs use it (409 cohort_in_use)', async () => {
    const { p } = await newProject();
    await api.call('PUT', `${p}/destinations/braze`, {
      body: {
        enabled: true,
        endpoint: api.h.sandbox.url,
        dataImportKey: api.h.sandbox.state.createWorkspace(),
        mapping: { type: 'user_id' },
      },
    });
    const used = await newCohort(p, 'Used');
    const free = await newCohort(p, 'Free');
    const sync = json<{ id: string }>(
      await api.call('POST', `${p}/syncs`, { body: { cohortId: used.id, cadence: 'daily' } }),
    );
    await api.h.queue.idle();
    const refused = await api.call('DELETE', `${p}/cohorts/${used.id}`);
    expect(refused.statusCode).toBe(409);
    expect(json<ErrorBody>(refused).error).toMatchObject({ code: 'cohort_in_use', details: { syncs: [sync.id] } });
    expect((await api.call('DELETE', `${p}/cohorts/${free.id}`)).statusCode).toBe(204);
    expect((await api.call('GET', `${p}/cohorts/${free.id}`)).statusCode).toBe(404);
    expect((await api.call('GET', `${p}/cohorts/${used.id}`)).statusCode).toBe(200);
  });
});
