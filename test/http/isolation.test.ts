// The isolation matrix (docs/product.md §1, api.md "Authentication"): every route, walked with no token, with
// another project's token, with a viewer token, and with an editor token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { ADMIN_TOKEN, type Api, json, startApi } from './api-support.ts';
import { type Fixture, makeFixture, ROUTES, urlOf } from './route-table.ts';

describe.each(ENGINES)('isolation matrix on $name', (engine) => {
  let api: Api;
  let a: Fixture;
  let b: Fixture;
  beforeAll(async () => {
    api = await startApi(engine);
    a = await makeFixture(api, 'Project A');
    b = await makeFixture(api, 'Project B');
  });
  afterAll(async () => {
    await api?.close();
  });

  const send = (route: (typeof ROUTES)[number], f: Fixture, token: string | null) =>
    api.call(route.method, urlOf(route, f), { token, ...(route.body ? { body: route.body(f, api) } : {}) });

  it('answers 401 to every /api/v1 route without a token or with an unknown one, and leaves /healthz and the OpenAPI document open', async () => {
    for (const route of ROUTES) {
      for (const token of [null, 'cs_proj_not-a-real-token']) {
        const res = await send(route, a, token);
        expect(res.statusCode, `${route.method} ${route.template} with ${token ?? 'no token'}`).toBe(401);
        expect(json(res)).toMatchObject({ error: { code: 'unauthorized' } });
      }
    }
    const malformed = await api.call('GET', `/api/v1/projects/${a.projectId}`, {
      token: null,
      headers: { authorization: `Basic ${Buffer.from('x:y').toString('base64')}` },
    });
    expect(malformed.statusCode).toBe(401);
    expect((await api.call('GET', '/healthz', { token: null })).json()).toEqual({ status: 'ok' });
    expect((await api.call('GET', '/api/v1/openapi.json', { token: null })).statusCode).toBe(200);
  });

  it('answers 404 to a project token for every id of another project, the project id included', async () => {
    for (const route of ROUTES.filter((r) => r.template.includes('{projectId}'))) {
      for (const token of [a.editor, a.viewer]) {
        const res = await send(route, b, token);
        expect(res.statusCode, `${route.method} ${route.template}`).toBe(404);
        expect(json(res)).toMatchObject({ error: { code: 'not_found' } });
      }
      // Another project's child ids under the caller's own project id are unknown there too.
      if (/\{(targetId|cohortId|syncId|runId|tokenId)\}/.test(route.template)) {
        const mixed = { ...b, projectId: a.projectId };
        const res = await send(route, mixed, a.editor);
        expect(res.statusCode, `${route.method} ${route.template} with B's child id under A`).toBe(404);
      }
    }
    // Project-token callers never see other projects in the listing, and cannot create projects.
    const listed = json<{ items: { id: string }[] }>(await api.call('GET', '/api/v1/projects', { token: a.viewer }));
    expect(listed.items.map((p) => p.id)).toEqual([a.projectId]);
    const admin = json<{ items: { id: string }[] }>(await api.call('GET', '/api/v1/projects'));
    expect(admin.items.map((p) => p.id)).toEqual(expect.arrayContaining([a.projectId, b.projectId]));
    const create = await api.call('POST', '/api/v1/projects', { token: a.editor, body: { name: 'Nope' } });
    expect(create.statusCode).toBe(403);
  });

  it('answers 403 forbidden to a viewer on every write and lets it read', async () => {
    for (const route of ROUTES) {
      const res = await send(route, a, a.viewer);
      if (route.access === 'read') expect(res.statusCode, `${route.method} ${route.template}`).toBe(route.ok);
      else {
        expect(res.statusCode, `${route.method} ${route.template}`).toBe(403);
        expect(json(res)).toMatchObject({ error: { code: 'forbidden' } });
      }
    }
  });

  it('lets an editor do every project route, and only the admin create projects', async () => {
    for (const route of ROUTES) {
      const token = route.access === 'admin' ? ADMIN_TOKEN : a.editor;
      const res = await send(route, a, token);
      expect(res.statusCode, `${route.method} ${route.template}: ${res.body}`).toBe(route.ok);
    }
    // The deletes at the end of the walk took effect.
    expect(
      (await api.call('GET', `/api/v1/projects/${a.projectId}/syncs/${a.syncId}`, { token: a.viewer })).statusCode,
    ).toBe(404);
    expect(
      (await api.call('GET', `/api/v1/projects/${a.projectId}/cohorts/${a.spareCohortId}`, { token: a.viewer }))
        .statusCode,
    ).toBe(404);
    // Project B was never touched by A's tokens.
    expect((await api.call('GET', `/api/v1/projects/${b.projectId}/syncs/${b.syncId}`)).statusCode).toBe(200);
    expect(json(await api.call('GET', `/api/v1/projects/${b.projectId}`))).toMatchObject({ name: 'Project B' });
  });
});
