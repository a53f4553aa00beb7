// The routes the web UI needs beyond api.md's resources (docs/ui.md "API for the UI"), over a whole engine
// with the real sandbox, and the static serving of web/dist with its client-route fallback.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/entry/http/app.ts';
import { uiSupportRoutes } from '../../src/entry/http/routes/ui-support.ts';
import { webRoutes } from '../../src/entry/http/web-static.ts';
import { ENGINES } from '../support/engines.ts';
import { tokenTools, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const ADMIN = 'cs_admin_ui_support_0123456789';
let h: Harness;
let app: FastifyInstance;
let web: string;

async function call(method: string, url: string, body?: unknown, token: string | null = ADMIN) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  const json = /json/.test(String(res.headers['content-type'])) && res.body;
  return { status: res.statusCode, body: json ? (JSON.parse(res.body) as any) : null, raw: res };
}

beforeAll(async () => {
  h = await startHarness(ENGINES[0]!);
  web = mkdtempSync(join(tmpdir(), 'cs-web-'));
  mkdirSync(join(web, 'assets'));
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>ui</title>');
  writeFileSync(join(web, 'assets', 'app-1234.js'), 'console.log(1)');
  app = await buildHttpApp({
    deps: h.deps,
    adminToken: ADMIN,
    tokens: tokenTools,
    extraRoutes: [
      (a) =>
        uiSupportRoutes(a, {
          deps: h.deps,
          sandbox: h.sandbox,
          partnerSlug: 'cohort-sync',
          mail: { delivery: 'log', from: 'cohort-sync@localhost' },
        }),
      (a) => webRoutes(a, { root: web }),
    ],
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await h?.close();
  rmSync(web, { recursive: true, force: true });
});

describe('API for the web UI', () => {
  let projectId: string;
  let targetId: string;
  let cohortId: string;
  let key: string;

  it('says who the caller is', async () => {
    expect((await call('GET', '/api/v1/whoami')).body).toEqual({ kind: 'admin' });
    projectId = (await call('POST', '/api/v1/projects', { name: 'UI' })).body.id;
    const viewer = (await call('POST', `/api/v1/projects/${projectId}/tokens`, { role: 'viewer' })).body.token;
    expect((await call('GET', '/api/v1/whoami', undefined, viewer)).body).toEqual({
      kind: 'project',
      projectId,
      role: 'viewer',
    });
    expect((await call('GET', '/api/v1/whoami', undefined, null)).status).toBe(401);
    // A viewer cannot create sandbox keys (a change), and gets the API's 403.
    expect((await call('POST', '/api/v1/sandbox/keys', undefined, viewer)).status).toBe(403);
  });

  it("lists Braze's instances, then the sandbox, and how mail goes out", async () => {
    const info = (await call('GET', '/api/v1/server')).body;
    expect(info.endpoints[0]).toEqual({ name: 'US-01', url: 'https://rest.iad-01.braze.com', kind: 'braze' });
    expect(info.endpoints.at(-1)).toEqual({ name: 'Braze sandbox', url: h.sandbox.url, kind: 'sandbox' });
    expect(info.endpoints.filter((e: any) => e.url === h.sandbox.url)).toHaveLength(1);
    expect(info.sandbox).toEqual({ url: h.sandbox.url, partner: 'cohort-sync' });
    expect(info.mail.delivery).toBe('log');
  });

  it('previews a sync before it exists, creating nothing', async () => {
    key = (await call('POST', '/api/v1/sandbox/keys')).body.dataImportKey;
    expect(h.sandbox.state.findWorkspace(key)).toBeDefined();
    const put = await call('PUT', `/api/v1/projects/${projectId}/destinations/braze`, {
      enabled: true,
      endpoint: h.sandbox.url,
      dataImportKey: key,
      mapping: { type: 'user_id' },
    });
    targetId = put.body.targets[0].id;
    cohortId = (await call('POST', `/api/v1/projects/${projectId}/cohorts`, { name: 'Buyers', type: 'static' })).body
      .id;
    await call('POST', `/api/v1/projects/${projectId}/cohorts/${cohortId}/members`, {
      add: [{ user_id: 'u1' }, { user_id: 'u2' }, { device_id: 'anon-only' }],
    });
    const preview = await call('POST', `/api/v1/projects/${projectId}/syncs/preview`, { cohortId, targetId });
    expect(preview.status).toBe(200);
    expect(preview.body.add.count).toBe(2);
    expect(preview.body.add.sample.map((i: any) => i.value).sort()).toEqual(['u1', 'u2']);
    expect(preview.body.skipped.count).toBe(1);
    expect(preview.body.remove.count).toBe(0);
    expect((await call('GET', `/api/v1/projects/${projectId}/syncs`)).body.items).toEqual([]);
    const bad = await call('POST', `/api/v1/projects/${projectId}/syncs/preview`, { cohortId });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error.details)).toContain('targetId');
  });

  it("shows the sandbox's view of the cohort in Braze's terms, and which members matched", async () => {
    // Only u1 has a Braze profile before the first send; Braze never creates users.
    h.sandbox.state.seedUsers(key, [{ external_id: 'u1' }]);
    const sync = (await call('POST', `/api/v1/projects/${projectId}/syncs`, { cohortId, cadence: 'one_time' })).body;
    await waitForRun(h.deps, sync.lastRun.id);
    const view = (await call('GET', `/api/v1/projects/${projectId}/syncs/${sync.id}/sandbox`)).body;
    expect(view.filter).toBe(`cohort-sync Cohorts includes [cohort-sync] Buyers: ${cohortId}`);
    expect(view.workspace).toBe(true);
    expect(view.received.user_ids).toBe(2);
    expect(view.segmentSize).toBe(1);
    const byUser = Object.fromEntries(view.members.map((m: any) => [m.user_id ?? 'none', m]));
    expect(byUser.u1).toMatchObject({ identifier: 'u1', matched: true });
    expect(byUser.u2).toMatchObject({ identifier: 'u2', matched: false });
    expect(byUser.none).toMatchObject({ identifier: null, matched: false });

    const perDay = (await call('GET', `/api/v1/projects/${projectId}/runs-per-day?days=7`)).body.days;
    expect(perDay).toHaveLength(7);
    expect(perDay.at(-1)).toMatchObject({ date: new Date().toISOString().slice(0, 10), succeeded: 1, failed: 0 });
    expect(perDay.slice(0, -1).every((d: any) => d.succeeded + d.failed + d.other === 0)).toBe(true);
    expect((await call('GET', `/api/v1/projects/${projectId}/runs-per-day?days=0`)).status).toBe(400);
  });

  it('creates Braze profiles for a cohort in a sandbox workspace before its first sync', async () => {
    const other = (await call('POST', '/api/v1/sandbox/keys')).body.dataImportKey;
    const target = (
      await call('POST', `/api/v1/projects/${projectId}/destinations/braze/targets`, {
        name: 'Aliases',
        endpoint: h.sandbox.url,
        dataImportKey: other,
        mapping: { type: 'user_alias', aliasLabel: 'crm' },
      })
    ).body;
    const seeded = await call('POST', `/api/v1/projects/${projectId}/sandbox/profiles`, {
      cohortId,
      targetId: target.id,
    });
    expect(seeded.body).toEqual({ workspace: true, profiles: 3 });
    const sync = (
      await call('POST', `/api/v1/projects/${projectId}/syncs`, { cohortId, targetId: target.id, cadence: 'one_time' })
    ).body;
    await waitForRun(h.deps, sync.lastRun.id);
    const view = (await call('GET', `/api/v1/projects/${projectId}/syncs/${sync.id}/sandbox`)).body;
    expect(view.received.aliases).toBe(2);
    expect(
      view.members
        .filter((m: any) => m.matched)
        .map((m: any) => m.user_id)
        .sort(),
    ).toEqual(['u1', 'u2']);
    // A key the sandbox never issued gets no workspace (Braze would refuse it; runs must keep failing).
    const stale = (
      await call('POST', `/api/v1/projects/${projectId}/destinations/braze/targets`, {
        name: 'Stale',
        endpoint: h.sandbox.url,
        dataImportKey: 'revoked-key-0000',
        mapping: { type: 'user_id' },
      })
    ).body;
    const none = await call('POST', `/api/v1/projects/${projectId}/sandbox/profiles`, { cohortId, targetId: stale.id });
    expect(none.body).toEqual({ workspace: false, profiles: 0 });
    expect(h.sandbox.state.findWorkspace('revoked-key-0000')).toBeUndefined();
    // A target elsewhere than the sandbox has no sandbox view.
    const real = await call('POST', `/api/v1/projects/${projectId}/destinations/braze/targets`, {
      name: 'Real',
      endpoint: 'https://rest.iad-01.braze.com',
      dataImportKey: 'real-key-0000',
      mapping: { type: 'user_id' },
    });
    const refused = await call('POST', `/api/v1/projects/${projectId}/sandbox/profiles`, {
      cohortId,
      targetId: real.body.id,
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('not_on_sandbox');
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', undefined, null)).body;
    for (const path of [
      '/api/v1/whoami',
      '/api/v1/server',
      '/api/v1/sandbox/keys',
      '/api/v1/projects/{projectId}/runs-per-day',
      '/api/v1/projects/{projectId}/syncs/preview',
      '/api/v1/projects/{projectId}/syncs/{syncId}/sandbox',
      '/api/v1/projects/{projectId}/sandbox/profiles',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
    expect(Object.keys(doc.paths).some((p) => p.includes('*'))).toBe(false);
  });
});

describe('serving the web UI', () => {
  it('serves files, falls back to index.html for client routes, and leaves server paths alone', async () => {
    const root = await call('GET', '/', undefined, null);
    expect(root.status).toBe(200);
    expect(root.raw.headers['content-type']).toMatch(/text\/html/);
    const deep = await call('GET', '/p/abc/syncs?status=failing', undefined, null);
    expect(deep.raw.body).toContain('<title>ui</title>');
    const asset = await call('GET', '/assets/app-1234.js', undefined, null);
    expect(asset.raw.body).toBe('console.log(1)');
    expect(asset.raw.headers['cache-control']).toContain('immutable');
    for (const path of ['/api/v1/nope', '/metrics/x', '/2/httpapi', '/sandbox/x', '/assets/missing.js']) {
      const res = await call('GET', path, undefined, null);
      expect(res.status, path).toBe(404);
      expect(res.raw.headers['content-type'], path).toMatch(/application\/json/);
    }
    expect((await call('GET', '/healthz', undefined, null)).body).toEqual({ status: 'ok' });
    expect((await call('GET', '/..%2f..%2fetc%2fpasswd', undefined, null)).raw.body).not.toContain('root:');
  });
});
