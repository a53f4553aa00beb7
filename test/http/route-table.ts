// Every /api/v1 route of api.md with a valid request for it, over a fixture project. The isolation
// matrix, the fuzz test and the OpenAPI test walk this one list, so a route added to the API but not here
// fails the OpenAPI test (the document must list exactly these).
import { expect } from 'vitest';
import { waitForRun } from '../support/flows.ts';
import { type Api, json } from './api-support.ts';

export interface Fixture {
  readonly projectId: string;
  readonly targetId: string;
  readonly cohortId: string;
  readonly syncId: string;
  readonly runId: string;
  /** A target and a cohort no sync uses, for the delete routes. */
  readonly spareTargetId: string;
  readonly spareCohortId: string;
  readonly dataImportKey: string;
  readonly editor: string;
  /** A viewer token no test signs in with, for the revoke route. */
  readonly spareTokenId: string;
  readonly viewer: string;
}

export type Access = 'admin' | 'read' | 'write';

export interface RouteCase {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI form: /api/v1/projects/{projectId}/… */
  readonly template: string;
  readonly access: Access;
  /** Which fixture id fills each placeholder, when not the one of the same name. */
  readonly ids?: Partial<Record<string, keyof Fixture>>;
  readonly query?: string;
  readonly body?: (f: Fixture, api: Api) => unknown;
  /** Status of the valid request. */
  readonly ok: number;
}

const unique = () => Math.random().toString(36).slice(2, 8);

/** In an order where the valid requests can run one after the other (deletes last). */
export const ROUTES: readonly RouteCase[] = [
  {
    method: 'POST',
    template: '/api/v1/projects',
    access: 'admin',
    body: () => ({ name: `Project ${unique()}` }),
    ok: 201,
  },
  { method: 'GET', template: '/api/v1/projects', access: 'read', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}', access: 'read', ok: 200 },
  {
    method: 'PATCH',
    template: '/api/v1/projects/{projectId}',
    access: 'write',
    body: () => ({ name: 'Renamed project', notificationEmails: ['ops@example.com'] }),
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/tokens',
    access: 'write',
    body: () => ({ role: 'viewer', name: 'CI' }),
    ok: 201,
  },
  { method: 'POST', template: '/api/v1/projects/{projectId}/ingest-key/rotate', access: 'write', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/tokens', access: 'write', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/destinations/braze', access: 'read', ok: 200 },
  {
    method: 'PUT',
    template: '/api/v1/projects/{projectId}/destinations/braze',
    access: 'write',
    body: () => ({ enabled: true }),
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/destinations/braze/targets',
    access: 'write',
    ok: 201,
    body: (f, api) => ({
      name: `Target ${unique()}`,
      endpoint: api.h.sandbox.url,
      dataImportKey: f.dataImportKey,
      mapping: { type: 'device_id' },
    }),
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/destinations/braze/targets', access: 'read', ok: 200 },
  {
    method: 'GET',
    template: '/api/v1/projects/{projectId}/destinations/braze/targets/{targetId}',
    access: 'read',
    ok: 200,
  },
  {
    method: 'PATCH',
    template: '/api/v1/projects/{projectId}/destinations/braze/targets/{targetId}',
    access: 'write',
    body: (f) => ({ dataImportKey: f.dataImportKey }),
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/destinations/braze/targets/{targetId}/test',
    access: 'write',
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/cohorts',
    access: 'write',
    body: () => ({ name: `Cohort ${unique()}`, type: 'static' }),
    ok: 201,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/cohorts', access: 'read', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/cohorts/{cohortId}', access: 'read', ok: 200 },
  {
    method: 'PATCH',
    template: '/api/v1/projects/{projectId}/cohorts/{cohortId}',
    access: 'write',
    body: () => ({ name: 'Renamed cohort' }),
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/cohorts/{cohortId}/members',
    access: 'write',
    body: () => ({ add: [{ user_id: 'u9' }], remove: [{ user_id: 'u2' }] }),
    ok: 200,
  },
  {
    method: 'PUT',
    template: '/api/v1/projects/{projectId}/cohorts/{cohortId}/members',
    access: 'write',
    body: () => ({ members: [{ user_id: 'u1' }, { user_id: 'u9', device_id: 'd9' }] }),
    ok: 200,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/cohorts/{cohortId}/members', access: 'read', ok: 200 },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/cohorts/estimate',
    access: 'read',
    body: () => ({ definition: { all: [{ any: [{ event: 'Purchase', within: { last: 7, unit: 'day' } }] }] } }),
    ok: 200,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/cohorts/{cohortId}/size-history', access: 'read', ok: 200 },
  {
    method: 'GET',
    template: '/api/v1/projects/{projectId}/cohorts/{cohortId}/explain',
    access: 'read',
    query: 'user_id=u1',
    ok: 200,
  },
  {
    method: 'POST',
    template: '/api/v1/projects/{projectId}/syncs',
    access: 'write',
    body: (f) => ({ cohortId: f.cohortId, targetId: f.targetId, cadence: 'one_time' }),
    ok: 201,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/syncs', access: 'read', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/syncs/{syncId}', access: 'read', ok: 200 },
  {
    method: 'PATCH',
    template: '/api/v1/projects/{projectId}/syncs/{syncId}',
    access: 'write',
    body: () => ({ notifyEmails: ['team@example.com'] }),
    ok: 200,
  },
  { method: 'POST', template: '/api/v1/projects/{projectId}/syncs/{syncId}/runs', access: 'write', ok: 202 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/syncs/{syncId}/preview', access: 'read', ok: 200 },
  {
    method: 'GET',
    template: '/api/v1/projects/{projectId}/syncs/{syncId}/runs',
    access: 'read',
    query: 'status=succeeded&limit=5',
    ok: 200,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/runs/{runId}', access: 'read', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/runs/{runId}/members.csv', access: 'read', ok: 200 },
  {
    method: 'GET',
    template: '/api/v1/projects/{projectId}/runs/{runId}/members',
    access: 'read',
    query: 'outcome=acked',
    ok: 200,
  },
  { method: 'GET', template: '/api/v1/projects/{projectId}/runs/{runId}/requests', access: 'read', ok: 200 },
  { method: 'GET', template: '/api/v1/projects/{projectId}/explain', access: 'read', query: 'user_id=u1', ok: 200 },
  { method: 'DELETE', template: '/api/v1/projects/{projectId}/syncs/{syncId}', access: 'write', ok: 204 },
  {
    method: 'DELETE',
    template: '/api/v1/projects/{projectId}/cohorts/{cohortId}',
    access: 'write',
    ids: { cohortId: 'spareCohortId' },
    ok: 204,
  },
  {
    method: 'DELETE',
    template: '/api/v1/projects/{projectId}/destinations/braze/targets/{targetId}',
    access: 'write',
    ids: { targetId: 'spareTargetId' },
    ok: 204,
  },
  {
    method: 'DELETE',
    template: '/api/v1/projects/{projectId}/tokens/{tokenId}',
    access: 'write',
    ids: { tokenId: 'spareTokenId' },
    ok: 204,
  },
];

/** The concrete URL of a route over a fixture (ids may be overridden, e.g. with another project's). */
export function urlOf(route: RouteCase, f: Fixture, withQuery = true): string {
  const path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const key = (route.ids?.[name] ?? name) as keyof Fixture;
    return encodeURIComponent(f[key]);
  });
  return withQuery && route.query ? `${path}?${route.query}` : path;
}

/** A project with Braze enabled, a Default target on the sandbox, a cohort of three, a finished sync run. */
export async function makeFixture(api: Api, name: string): Promise<Fixture> {
  const ok = async (r: Promise<import('fastify').LightMyRequestResponse>, status: number) => {
    const res = await r;
    expect(res.statusCode, res.body).toBe(status);
    return json<Record<string, unknown> & { id: string }>(res);
  };
  const project = await ok(api.call('POST', '/api/v1/projects', { body: { name } }), 201);
  const p = `/api/v1/projects/${project.id}`;
  const dataImportKey = api.h.sandbox.state.createWorkspace();
  api.h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'u1' }, { external_id: 'u2' }]);
  const destination = await ok(
    api.call('PUT', `${p}/destinations/braze`, {
      body: { enabled: true, endpoint: api.h.sandbox.url, dataImportKey, mapping: { type: 'user_id' } },
    }),
    200,
  );
  const target = (destination.targets as { id: string }[])[0]!;
  const spareTarget = await ok(
    api.call('POST', `${p}/destinations/braze/targets`, {
      body: { name: 'Spare', endpoint: api.h.sandbox.url, dataImportKey, mapping: { type: 'device_id' } },
    }),
    201,
  );
  const cohort = await ok(api.call('POST', `${p}/cohorts`, { body: { name: 'Buyers', type: 'static' } }), 201);
  const spareCohort = await ok(api.call('POST', `${p}/cohorts`, { body: { name: 'Spare', type: 'static' } }), 201);
  await ok(
    api.call('PUT', `${p}/cohorts/${cohort.id}/members`, {
      payload: 'user_id,device_id\nu1,d1\nu2,\n,d3\n',
      headers: { 'content-type': 'text/csv' },
    }),
    200,
  );
  const sync = await ok(api.call('POST', `${p}/syncs`, { body: { cohortId: cohort.id, cadence: 'daily' } }), 201);
  const runId = (sync.lastRun as { id: string }).id;
  expect((await waitForRun(api.h.deps, runId)).status).toBe('succeeded');
  const editor = (await ok(api.call('POST', `${p}/tokens`, { body: { role: 'editor' } }), 201)).token as string;
  const viewer = (await ok(api.call('POST', `${p}/tokens`, { body: { role: 'viewer' } }), 201)).token as string;
  const spareToken = (await ok(api.call('POST', `${p}/tokens`, { body: { role: 'viewer' } }), 201)).id as string;
  return {
    projectId: project.id,
    targetId: target.id,
    cohortId: cohort.id,
    syncId: sync.id,
    runId,
    spareTargetId: spareTarget.id,
    spareTokenId: spareToken,
    spareCohortId: spareCohort.id,
    dataImportKey,
    editor,
    viewer,
  };
}
