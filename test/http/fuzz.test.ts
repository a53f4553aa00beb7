// Random and malformed requests over every route (ids, bodies, query strings, content types, tokens):
// the API never answers 5xx, every refusal has the error shape, and a refused request changes nothing
// stored (every row of every table is compared before and after).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { ADMIN_TOKEN, type Api, startApi } from './api-support.ts';
import { type Fixture, makeFixture, ROUTES, type RouteCase } from './route-table.ts';
import { snapshotStore } from './store-snapshot.ts';

const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 60);

/** Strings of every kind: printable ASCII, any code point (NUL, lone surrogates, astral), and the edge cases. */
const nastyChar = fc.constantFrom(
  'a',
  'Z',
  '0',
  '\u0000',
  '"',
  ',',
  '\n',
  '\r',
  ' ',
  'é',
  '😀',
  '\ud800',
  '\\',
  '%',
  '\u001f',
);
const anyText = (maxLength = 20) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: nastyChar, maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
    fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '😀'.repeat(600), 'é'.repeat(1100), 'Default'),
  );
const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

/** Percent-encodes like encodeURIComponent, but never throws (a lone surrogate goes as U+FFFD's bytes). */
const encode = (value: string) =>
  [...Buffer.from(value, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

type IdPick = { kind: 'a' } | { kind: 'b' } | { kind: 'raw'; value: string; encode: boolean };

const idPick: fc.Arbitrary<IdPick> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'a' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'b' as const }) },
  { weight: 2, arbitrary: anyText(30).map((value) => ({ kind: 'raw' as const, value, encode: true })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('%', '%zz', '%00', '..', 'x'.repeat(150))
      .map((value) => ({ kind: 'raw' as const, value, encode: value !== '%' && value !== '%zz' })),
  },
);

const member = fc.record(
  {
    user_id: fc.oneof(anyText(), anyJson),
    device_id: fc.oneof(anyText(), anyJson),
    properties: fc.oneof(fc.dictionary(anyText(8), anyJson, { maxKeys: 3 }), anyJson),
  },
  { requiredKeys: [] },
);

const csvText = fc
  .tuple(
    fc.constantFrom('user_id', 'user_id,device_id', 'device_id,plan', 'plan', '\ufeffuser_id,device_id', ''),
    fc.array(fc.array(fc.oneof(anyText(8), fc.constantFrom('"', '""', '"a,b"', '"open', ' ')), { maxLength: 4 }), {
      maxLength: 6,
    }),
    fc.constantFrom('\n', '\r\n'),
  )
  .map(([header, rows, eol]) => [header, ...rows.map((r) => r.join(','))].join(eol));

type BodyPick =
  | { kind: 'none' }
  | { kind: 'valid' }
  | { kind: 'patched'; key: string; value: unknown }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; value: string }
  | { kind: 'bytes'; value: Uint8Array };

const fieldNames = fc.constantFrom(
  'name',
  'type',
  'role',
  'enabled',
  'endpoint',
  'dataImportKey',
  'mapping',
  'cohortId',
  'targetId',
  'cadence',
  'cron',
  'paused',
  'notifyEmails',
  'notificationEmails',
  'add',
  'remove',
  'members',
  'definition',
  '__proto__',
  'constructor',
  'extra',
);
const fieldValue = fc.oneof(
  anyJson,
  anyText(),
  fc.array(member, { maxLength: 4 }),
  fc.record(
    {
      type: fc.constantFrom('user_id', 'device_id', 'user_alias', 'x'),
      aliasLabel: anyText(),
      aliasProperty: anyText(),
      fallbacks: fc.array(fc.record({ type: fc.constantFrom('user_id', 'device_id', 'user_alias') }), { maxLength: 2 }),
    },
    { requiredKeys: ['type'] },
  ),
  fc.constantFrom(
    'one_time',
    'hourly',
    'daily',
    'real_time',
    'cron',
    '0 * * * *',
    '* * *',
    '61 * * * *',
    true,
    false,
    null,
  ),
);

const bodyPick: fc.Arbitrary<BodyPick> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  { weight: 3, arbitrary: fc.constant({ kind: 'valid' as const }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('patched' as const), key: fieldNames, value: fieldValue }) },
  { weight: 2, arbitrary: anyJson.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        anyText(40),
        csvText,
        csvText,
        fc.constantFrom('{', '{"name":', '[]', 'null', '{"__proto__":{"x":1}}', '{"a":1}{"b":2}'),
      )
      .map((value) => ({ kind: 'text' as const, value })),
  },
  fc.uint8Array({ maxLength: 64 }).map((value) => ({ kind: 'bytes' as const, value })),
);

const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constant('text/csv') },
  fc.constantFrom(
    undefined,
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    'garbage',
  ),
);

const queryKey = fc.constantFrom(
  'limit',
  'cursor',
  'status',
  'from',
  'to',
  'outcome',
  'q',
  'deleteSyncs',
  'removeMembers',
  'user_id',
  'device_id',
  'x',
);
const queryValue = fc.oneof(
  anyText(),
  fc.constantFrom(
    'true',
    'false',
    '0',
    '-1',
    '1',
    '1000',
    '1001',
    '1.5',
    '1e3',
    '2024-01-01T00:00:00Z',
    'not-a-date',
    'succeeded',
    'acked',
    'skipped',
    'eyJzIjoxLCJpIjowfQ',
    'eyJzIjoxLCJpIjowfQ.abc',
    '\u0000',
  ),
);
const query = fc.oneof(
  fc
    .array(fc.tuple(queryKey, queryValue), { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${encode(v)}`).join('&')),
  fc.constantFrom('', '&&', 'limit', 'limit=1&limit=2', 'a[b]=c', '%zz=1', 'cursor=%00'),
);

const token = (a: Fixture, b: Fixture) =>
  fc.constantFrom<string | null>(
    ADMIN_TOKEN,
    ADMIN_TOKEN,
    ADMIN_TOKEN,
    a.editor,
    a.editor,
    a.editor,
    a.viewer,
    b.editor,
    null,
    'cs_proj_junk',
  );

const unknownRoutes: RouteCase[] = [
  { method: 'GET', template: '/api/v1/projects/{projectId}/nothing-here', access: 'read', ok: 404 },
  { method: 'DELETE', template: '/api/v1/projects/{projectId}', access: 'write', ok: 404 },
  { method: 'PUT', template: '/api/v1/projects/{projectId}/runs/{runId}', access: 'write', ok: 404 },
];

describe.each(ENGINES)('fuzzing the API on $name', (engine) => {
  let api: Api;
  let a: Fixture;
  let b: Fixture;
  beforeAll(async () => {
    api = await startApi(engine);
    a = await makeFixture(api, 'Fuzz A');
    b = await makeFixture(api, 'Fuzz B');
    // No background work during the walk: every change in the store comes from the request just sent.
    await api.h.worker.stop();
  });
  afterAll(async () => {
    await api?.close();
  });

  // Each route gets its own share of the runs (deletes come last in ROUTES), so rare routes are reached
  // as deeply as common ones; bodies mostly keep the route's valid fields and change one.
  const statuses = new Map<number, number>();
  const seen = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  it.each([...ROUTES, ...unknownRoutes].map((route) => [`${route.method} ${route.template}`, route] as const))(
    '%s: never 5xx, refusals have the error shape and change nothing stored',
    async (_name, route) => {
      const validKeys = Object.keys((route.body?.(a, api) as Record<string, unknown> | undefined) ?? {});
      const request = fc.record({
        ids: fc.dictionary(fc.constantFrom('projectId', 'targetId', 'cohortId', 'syncId', 'runId', 'tokenId'), idPick),
        body:
          validKeys.length > 0
            ? fc.oneof(
                {
                  weight: 5,
                  arbitrary: fc.record({
                    kind: fc.constant('patched' as const),
                    key: fc.constantFrom(...validKeys),
                    value: fieldValue,
                  }),
                },
                { weight: 5, arbitrary: bodyPick },
              )
            : bodyPick,
        contentType,
        query,
        token: token(a, b),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => {
            const pick = r.ids[name] ?? { kind: 'a' };
            const fixtureKey = (route.ids?.[name] ?? name) as keyof Fixture;
            if (pick.kind === 'a') return encode(a[fixtureKey]);
            if (pick.kind === 'b') return encode(b[fixtureKey]);
            return pick.encode ? encode(pick.value) : pick.value;
          });
          const url = r.query ? `${path}?${r.query}` : path;
          const valid = route.body?.(a, api);
          const payload: string | Buffer | undefined =
            r.body.kind === 'none'
              ? undefined
              : r.body.kind === 'valid'
                ? JSON.stringify(valid ?? {})
                : r.body.kind === 'patched'
                  ? JSON.stringify({
                      ...(typeof valid === 'object' && valid !== null ? valid : {}),
                      [r.body.key]: r.body.value,
                    })
                  : r.body.kind === 'json'
                    ? JSON.stringify(r.body.value)
                    : r.body.kind === 'text'
                      ? r.body.value
                      : Buffer.from(r.body.value);
          const headers: Record<string, string> = {};
          if (r.token !== null) headers.authorization = `Bearer ${r.token}`;
          if (r.contentType !== undefined && payload !== undefined) headers['content-type'] = r.contentType;

          const before = await snapshotStore(api.h.store);
          const res = await api.app.inject({
            method: route.method,
            url,
            headers,
            ...(payload !== undefined ? { payload } : {}),
          });
          seen(res.statusCode);
          expect(res.statusCode, `${route.method} ${url} → ${res.body}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const body = res.json() as { error?: { code?: unknown; message?: unknown } };
            expect(typeof body.error?.code, res.body).toBe('string');
            expect(typeof body.error?.message, res.body).toBe('string');
            expect(
              await snapshotStore(api.h.store),
              `${route.method} ${url} was refused (${res.statusCode}) but changed stored data`,
            ).toEqual(before);
          }
        }),
        { numRuns: RUNS_PER_ROUTE },
      );
    },
  );

  it('reached past authentication: validation, lookups and successes all happened', () => {
    if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify([...statuses].sort()));
    for (const status of [200, 201, 204, 400, 401, 403, 404, 415])
      expect(statuses.get(status) ?? 0, `status ${status} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
  });
});
