// Issue 12's bad-input items over the real API on SQLite: lone surrogates and blank ids (6), cron with a
// seconds field (7), spreadsheet formulas in members.csv (10), and an access level every route must declare
// (16). Each case is refused with the error shape and leaves the store as it was.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../../src/entry/http/auth.ts';
import { ENGINES } from '../support/engines.ts';
import { waitForRun } from '../support/flows.ts';
import { ADMIN_TOKEN, type Api, json, startApi } from './api-support.ts';
import { type Fixture, makeFixture } from './route-table.ts';
import { snapshotStore } from './store-snapshot.ts';

type ErrorBody = { error: { code: string; message: string; details?: { fields?: { path: string }[] } } };

const sqlite = ENGINES[0]!;

describe('bad input is refused with a clear 400 and changes nothing', () => {
  let api: Api;
  let f: Fixture;
  beforeAll(async () => {
    api = await startApi(sqlite, {
      context: {
        // A route that forgot its access level, added the way other features add theirs.
        extraRoutes: [
          async (app) => {
            app.get('/api/v1/forgotten', async () => ({ secret: 'never served' }));
          },
        ],
      },
    });
    f = await makeFixture(api, 'Hardening');
  });
  afterAll(async () => {
    await api?.close();
  });
  const p = () => `/api/v1/projects/${f.projectId}`;

  const refused = async (
    res: Promise<import('fastify').LightMyRequestResponse>,
    path: string,
    before: unknown,
  ): Promise<ErrorBody> => {
    const r = await res;
    expect(r.statusCode, r.body).toBe(400);
    const body = json<ErrorBody>(r);
    expect(body.error.code).toBe('invalid_input');
    expect(JSON.stringify(body.error)).toContain(path);
    expect(await snapshotStore(api.h.store)).toEqual(before);
    return body;
  };

  it('refuses lone UTF-16 surrogates in ids, names and properties, naming the field (item 6)', async () => {
    const before = await snapshotStore(api.h.store);
    // Two distinct ids that UTF-8 would both turn into U+FFFD.
    for (const id of ['u\ud800', 'u\udfff', '\udc00x'])
      await refused(
        api.call('POST', `${p()}/cohorts/${f.cohortId}/members`, { body: { add: [{ user_id: id }] } }),
        'user_id',
        before,
      );
    await refused(
      api.call('POST', `${p()}/cohorts/${f.cohortId}/members`, {
        body: { add: [{ user_id: 'ok', properties: { plan: 'pro\ud83d' } }] },
      }),
      'properties',
      before,
    );
    await refused(api.call('POST', `${p()}/cohorts`, { body: { name: 'Bad \ud800', type: 'static' } }), 'name', before);
    await refused(api.call('PATCH', p(), { body: { name: '\udbff' } }), 'name', before);
    // A well-formed pair is fine.
    const ok = await api.call('POST', `${p()}/cohorts/${f.cohortId}/members`, { body: { add: [{ user_id: 'u😀' }] } });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses blank and whitespace-only ids in the API and in CSV rows (item 6)', async () => {
    for (const id of [' ', '   ', '\t', '\u00a0']) {
      const res = await api.call('POST', `${p()}/cohorts/${f.spareCohortId}/members`, {
        body: { add: [{ user_id: id }, { device_id: id }] },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(json<{ invalid: { reason: string }[] }>(res).invalid.map((r) => r.reason)).toEqual([
        'user_id is blank (only whitespace)',
        'device_id is blank (only whitespace)',
      ]);
    }
    const listed = json<{ items: unknown[] }>(await api.call('GET', `${p()}/cohorts/${f.spareCohortId}/members`));
    expect(listed.items).toEqual([]);
    const csv = await api.call('PUT', `${p()}/cohorts/${f.spareCohortId}/members`, {
      payload: 'user_id,device_id\n ,\nu7,d7\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.body).toMatch(/blank/);
    const members = json<{ items: { user_id?: string }[] }>(
      await api.call('GET', `${p()}/cohorts/${f.spareCohortId}/members`),
    );
    expect(members.items.map((m) => m.user_id)).toEqual(['u7']);
  });

  it('refuses cron expressions with a seconds field (item 7)', async () => {
    const before = await snapshotStore(api.h.store);
    for (const cron of ['* * * * * *', '*/1 * * * * *', '0 0 * * * * 2030'])
      await refused(api.call('PATCH', `${p()}/syncs/${f.syncId}`, { body: { cadence: 'cron', cron } }), 'cron', before);
    const ok = await api.call('PATCH', `${p()}/syncs/${f.syncId}`, { body: { cron: '*/5 * * * *' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await api.call('PATCH', `${p()}/syncs/${f.syncId}`, { body: { cron: '@daily' } })).statusCode).toBe(200);
  });

  it('neutralises spreadsheet formulas in members.csv (item 10)', async () => {
    const evil = ['=HYPERLINK("http://x")', '+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR'];
    const members = evil.map((user_id) => ({ user_id }));
    expect((await api.call('PUT', `${p()}/cohorts/${f.spareCohortId}/members`, { body: { members } })).statusCode).toBe(
      200,
    );
    const sync = json<{ id: string; lastRun: { id: string } }>(
      await api.call('POST', `${p()}/syncs`, {
        body: { cohortId: f.spareCohortId, targetId: f.targetId, cadence: 'one_time' },
      }),
    );
    await waitForRun(api.h.deps, sync.lastRun.id);
    const csv = await api.call('GET', `${p()}/runs/${sync.lastRun.id}/members.csv`);
    expect(csv.statusCode).toBe(200);
    const cells = csv.body
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .flatMap((line) => line.match(/("([^"]|"")*"|[^,]*)/g) ?? [])
      .map((c) => (c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c))
      .filter((c) => c !== '');
    for (const cell of cells) expect(cell, `cell ${JSON.stringify(cell)}`).not.toMatch(/^[=+\-@\t\r]/);
    for (const id of evil) expect(cells).toContain(`'${id}`);
  });

  it('refuses every request to a route that declares no access level, even the admin (item 16)', async () => {
    const res = await api.call('GET', '/api/v1/forgotten');
    expect(res.statusCode).toBe(403);
    expect(json<ErrorBody>(res).error).toMatchObject({ code: 'route_access_undeclared' });
    expect(json<ErrorBody>(res).error.message).toMatch(/declares no access level/);
    expect(res.body).not.toContain('never served');
    expect((await api.call('GET', '/api/v1/forgotten', { token: null })).statusCode).toBe(403);
    // Unknown URLs still answer 404, and declared routes work.
    expect((await api.call('GET', '/api/v1/nowhere')).statusCode).toBe(404);
    expect((await api.call('GET', '/healthz', { token: null })).statusCode).toBe(200);
  });

  it('the route table has no route without an access level besides the planted one (item 16)', async () => {
    const table = routeTable(api.app);
    expect(table.length).toBeGreaterThan(30);
    const undeclared = table.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual(['GET /api/v1/forgotten', 'HEAD /api/v1/forgotten']);
    // Walk it: every route of the table answers something other than a 5xx, and the undeclared ones 403.
    for (const r of table) {
      const url = r.url.replace(/:(\w+)/g, (_, name: string) => (name === 'projectId' ? f.projectId : `x_${name}`));
      const res = await api.app.inject({
        method: r.method as 'GET',
        url,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBeLessThan(500);
      if (r.access === undefined) expect(res.statusCode).toBe(403);
    }
  });
});

describe('cursors are bound to their list and scope (item 5)', () => {
  let api: Api;
  let f: Fixture;
  let g: Fixture;
  beforeAll(async () => {
    api = await startApi(sqlite);
    f = await makeFixture(api, 'Cursors A');
    g = await makeFixture(api, 'Cursors B');
    // Second runs so the runs lists have two pages.
    for (const x of [f, g]) {
      const run = json<{ id: string }>(
        await api.call('POST', `/api/v1/projects/${x.projectId}/syncs/${x.syncId}/runs`),
      );
      await waitForRun(api.h.deps, run.id);
    }
  });
  afterAll(async () => {
    await api?.close();
  });

  const lists = (x: Fixture) => {
    const p = `/api/v1/projects/${x.projectId}`;
    return {
      projects: '/api/v1/projects',
      targets: `${p}/destinations/braze/targets`,
      cohorts: `${p}/cohorts`,
      members: `${p}/cohorts/${x.cohortId}/members`,
      runs: `${p}/syncs/${x.syncId}/runs`,
      runMembers: `${p}/runs/${x.runId}/members`,
    };
  };

  it('answers 400, never 500, to a cursor from another list or another scope', async () => {
    const cursors = new Map<string, string>();
    for (const x of [f, g])
      for (const [name, url] of Object.entries(lists(x))) {
        const res = await api.call('GET', `${url}?limit=1`);
        expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
        const next = json<{ nextCursor: string | null }>(res).nextCursor;
        expect(next, `${url} has a second page`).not.toBeNull();
        cursors.set(`${x.projectId}:${name}`, next!);
        // Its own cursor works.
        expect((await api.call('GET', `${url}?limit=1&cursor=${encodeURIComponent(next!)}`)).statusCode).toBe(200);
      }
    let tried = 0;
    for (const [from, cursor] of cursors)
      for (const x of [f, g])
        for (const [name, url] of Object.entries(lists(x))) {
          if (from === `${x.projectId}:${name}`) continue;
          if (name === 'projects' && from.endsWith(':projects')) continue; // one list, whoever pages it
          const res = await api.call('GET', `${url}?limit=1&cursor=${encodeURIComponent(cursor)}`);
          expect(res.statusCode, `${from} cursor on ${url}: ${res.body}`).toBe(400);
          expect(json<ErrorBody>(res).error.details?.fields?.[0]?.path).toBe('cursor');
          tried += 1;
        }
    expect(tried).toBeGreaterThan(100);
  });
});

describe('a busy SQLite store answers 503 with Retry-After, never 500 (item 14)', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(sqlite);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('waits for the lock (busy_timeout), then answers 503 store_busy with Retry-After; the write works once the lock is gone', async () => {
    const location = api.h.store.location;
    if (location.kind !== 'sqlite') throw new Error('sqlite only');
    // Waiting the default 10 s would slow the suite; the service's connection waits 300 ms here.
    await sql`pragma busy_timeout = 300`.execute(api.h.store.raw.db);
    const other = new Database(location.file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const res = await api.call('POST', '/api/v1/projects', { body: { name: 'Blocked' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250); // it was retried for busy_timeout first
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(json<ErrorBody>(res).error.code).toBe('store_busy');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    const ok = await api.call('POST', '/api/v1/projects', { body: { name: 'Unblocked' } });
    expect(ok.statusCode).toBe(201);
  });

  it('creates the database file readable by its owner only (item 15)', () => {
    const location = api.h.store.location;
    if (location.kind !== 'sqlite') throw new Error('sqlite only');
    expect(statSync(location.file).mode & 0o777).toBe(0o600);
    expect(statSync(`${location.file}-wal`).mode & 0o777).toBe(0o600);
  });
});

describe('operations (item 17)', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(sqlite);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('honours and echoes X-Request-Id, and makes one when none (or a malformed one) is given', async () => {
    const given = await api.call('GET', '/api/v1/projects', { headers: { 'x-request-id': 'edge-7f3a.42' } });
    expect(given.headers['x-request-id']).toBe('edge-7f3a.42');
    const refused = await api.call('GET', '/api/v1/nothing', { headers: { 'x-request-id': 'trace-1' } });
    expect(refused.statusCode).toBe(404);
    expect(refused.headers['x-request-id']).toBe('trace-1');
    const none = await api.call('GET', '/healthz');
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'x\ny'.replace('\n', ' ').repeat(3) } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('`cohort-sync --version` prints the package version', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'src/entry/cli/main.ts', '--version'], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});
