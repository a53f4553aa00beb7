// The Braze sandbox (src/sandbox) over real HTTP: the partner endpoints as docs/design.md §1 describes them,
// Braze's matching rules (§2), the admin API, fault injection and the rate-limit budget. Everything goes
// through global fetch against startSandbox({ port: 0 }) except where a test checks the in-process `state`.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_REQUESTS_PER_HOUR,
  MAX_IDENTIFIERS_PER_REQUEST,
  MAX_PARTNER_BODY_BYTES,
  type RunningSandbox,
  runSandboxCli,
  SandboxError,
  startSandbox,
} from '../../src/sandbox/index.ts';

const SLUG = 'acme';
const PARTNER_KEY = 'pk-test-0001';
/** A fixed clock (10:30 UTC) so rate-limit windows and X-RateLimit-Reset are exact; tests may move it. */
const T0 = Date.UTC(2030, 0, 1, 10, 30, 0);
const NEXT_HOUR_SECONDS = Date.UTC(2030, 0, 1, 11, 0, 0) / 1000;
let clock = T0;
let sandbox: RunningSandbox;

interface Answer {
  status: number;
  headers: Headers;
  json: any; // response bodies are checked field by field in the tests
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  init: { contentType?: string; raw?: string } = {},
): Promise<Answer> {
  const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: payload === undefined ? {} : { 'Content-Type': init.contentType ?? 'application/json' },
    ...(payload !== undefined && { body: payload }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text.length > 0 ? JSON.parse(text) : undefined };
}

const admin = (method: string, path: string, body?: unknown): Promise<Answer> => call(method, `/sandbox${path}`, body);

async function newWorkspace(users: unknown[] = []): Promise<string> {
  const created = await admin('POST', '/workspaces');
  expect(created.status).toBe(201);
  const key = created.json.dataImportKey as string;
  if (users.length > 0) expect((await admin('POST', `/workspaces/${key}/users`, { users })).status).toBe(200);
  return key;
}

const nameBody = (dik: string, cohortId: string, name: string, extra: Record<string, unknown> = {}) => ({
  partner_api_key: PARTNER_KEY,
  client_secret: dik,
  cohort_id: cohortId,
  name,
  created_at: '2030-01-01T09:00:00.000Z',
  ...extra,
});

const usersBody = (dik: string, cohortId: string, cohortChanges: unknown) => ({
  partner_api_key: PARTNER_KEY,
  client_secret: dik,
  cohort_id: cohortId,
  cohort_changes: cohortChanges,
});

const postName = (body: unknown): Promise<Answer> => call('POST', `/partners/${SLUG}/cohorts`, body);
const postUsers = (body: unknown): Promise<Answer> => call('POST', `/partners/${SLUG}/cohorts/users`, body);

async function nameCohort(dik: string, cohortId: string, name = `Cohort ${cohortId}`): Promise<void> {
  expect((await postName(nameBody(dik, cohortId, name))).status).toBe(201);
}

async function members(dik: string, cohortId: string): Promise<string[]> {
  const answer = await admin('GET', `/workspaces/${dik}/cohorts/${cohortId}/users`);
  expect(answer.status).toBe(200);
  expect(answer.json.size).toBe(answer.json.items.length);
  // One label per profile: its external id, else its first device id, else its first alias.
  return (answer.json.items as { external_id?: string; device_ids: string[]; aliases: { alias_name: string }[] }[]).map(
    (p) => p.external_id ?? p.device_ids[0] ?? `alias:${p.aliases[0]?.alias_name}`,
  );
}

async function identifiers(dik: string, cohortId: string): Promise<unknown> {
  const answer = await admin('GET', `/workspaces/${dik}/cohorts/${cohortId}/identifiers`);
  expect(answer.status).toBe(200);
  return answer.json;
}

function expectRateLimitHeaders(answer: Answer, limit: number, remaining: number): void {
  expect(answer.headers.get('x-ratelimit-limit')).toBe(String(limit));
  expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(remaining));
  expect(answer.headers.get('x-ratelimit-reset')).toBe(String(NEXT_HOUR_SECONDS));
}

const email = (name: string) => ({ alias_name: name, alias_label: 'email' });

/** The users most tests seed: two identified (one with a device id and one with an alias), two anonymous. */
const USERS = [
  { external_id: 'u1', device_ids: ['d-of-u1'] },
  { external_id: 'u2', aliases: [email('u2@x.io')] },
  { device_ids: ['anon-1'] },
  { device_ids: ['anon-2'], aliases: [email('anon2@x.io')] },
];

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    partnerSlug: SLUG,
    partnerKeys: [PARTNER_KEY, 'pk-test-eu'],
    now: () => clock,
  });
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  clock = T0;
  expect((await admin('POST', '/reset')).status).toBe(200);
});

describe('name endpoint: POST /partners/{slug}/cohorts', () => {
  it('creates a cohort and renames it when called again with the same cohort_id', async () => {
    const dik = await newWorkspace();
    const created = await postName(nameBody(dik, 'c-1', 'Churn risk'));
    expect(created).toMatchObject({ status: 201, json: { message: 'success' } });
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json).toEqual({
      items: [{ id: 'c-1', name: 'Churn risk', size: 0, createdAt: '2030-01-01T09:00:00.000Z' }],
    });

    const renamed = await postName(nameBody(dik, 'c-1', 'Churn risk (v2)', { created_at: '2030-02-01T00:00:00Z' }));
    expect(renamed.status).toBe(201);
    await nameCohort(dik, 'c-2', 'Power users');
    // Renamed in place (first created_at kept), not duplicated.
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items).toEqual([
      { id: 'c-1', name: 'Churn risk (v2)', size: 0, createdAt: '2030-01-01T09:00:00.000Z' },
      { id: 'c-2', name: 'Power users', size: 0, createdAt: '2030-01-01T09:00:00.000Z' },
    ]);
  });

  it('accepts every configured partner key', async () => {
    const dik = await newWorkspace();
    expect((await postName({ ...nameBody(dik, 'c-1', 'X'), partner_api_key: 'pk-test-eu' })).status).toBe(201);
  });

  it.each([
    ['cohort_id missing', { cohort_id: undefined }, 'cohort_id is required'],
    ['cohort_id not a string', { cohort_id: 42 }, 'cohort_id must be a non-empty string'],
    ['cohort_id empty', { cohort_id: '' }, 'cohort_id must be a non-empty string'],
    ['name missing', { name: undefined }, 'name is required'],
    ['name empty', { name: '' }, 'name must be a non-empty string'],
    ['name blank', { name: '   ' }, 'name must not be blank'],
    ['created_at missing', { created_at: undefined }, 'created_at is required'],
    ['created_at not a timestamp', { created_at: 'yesterday' }, 'created_at must be an ISO-8601 timestamp'],
    ['created_at without a zone', { created_at: '2030-01-01T09:00:00' }, 'created_at must be an ISO-8601 timestamp'],
    ['partner_api_key missing', { partner_api_key: undefined }, 'partner_api_key is required'],
    ['partner_api_key not a string', { partner_api_key: 7 }, 'partner_api_key must be a string'],
    ['client_secret missing', { client_secret: undefined }, 'client_secret is required'],
  ])('answers 400 when %s', async (_case, override, message) => {
    const dik = await newWorkspace();
    const answer = await postName({ ...nameBody(dik, 'c-1', 'Churn'), ...override });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain(message);
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items).toEqual([]);
  });
});

describe('membership endpoint: POST /partners/{slug}/cohorts/users', () => {
  it('adds only identifiers that match a profile, ignoring unknown ids and device ids of identified users', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const added = await postUsers(
      usersBody(dik, 'c-1', [
        {
          user_ids: ['u1', 'nobody', 'U2'], // external ids are case-sensitive: U2 is not u2
          device_ids: ['anon-1', 'ghost-device'],
          aliases: [email('u2@x.io'), email('unknown@x.io')],
        },
      ]),
    );
    expect(added).toMatchObject({ status: 201, json: { message: 'success' } });
    expect(await members(dik, 'c-1')).toEqual(['u1', 'u2', 'anon-1']);
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items[0]).toMatchObject({ id: 'c-1', size: 3 });
    // The raw identifiers hold everything sent, matched or not.
    expect(await identifiers(dik, 'c-1')).toEqual({
      user_ids: ['U2', 'nobody', 'u1'],
      device_ids: ['anon-1', 'ghost-device'],
      aliases: [email('u2@x.io'), email('unknown@x.io')],
    });

    // A device id of an identified user matches nothing; the anonymous user's alias matches it.
    await nameCohort(dik, 'c-2');
    expect((await postUsers(usersBody(dik, 'c-2', [{ device_ids: ['d-of-u1'] }]))).status).toBe(201);
    expect(await members(dik, 'c-2')).toEqual([]);
    expect(await identifiers(dik, 'c-2')).toEqual({ user_ids: [], device_ids: ['d-of-u1'], aliases: [] });
    expect((await postUsers(usersBody(dik, 'c-2', [{ aliases: [email('anon2@x.io')] }]))).status).toBe(201);
    expect(await members(dik, 'c-2')).toEqual(['anon-2']);
  });

  it('removes members with should_remove, and applies an add block and a remove block of one request', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1', 'u2', 'nobody'], device_ids: ['anon-1'] }]));
    expect(await members(dik, 'c-1')).toEqual(['u1', 'u2', 'anon-1']);

    const both = await postUsers(
      usersBody(dik, 'c-1', [
        { user_ids: ['u1', 'nobody'], device_ids: ['anon-1'], should_remove: true },
        { aliases: [email('anon2@x.io')], should_remove: false },
      ]),
    );
    expect(both.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u2', 'anon-2']);
    expect(await identifiers(dik, 'c-1')).toEqual({ user_ids: ['u2'], device_ids: [], aliases: [email('anon2@x.io')] });

    // Removing by alias removes the profile the alias belongs to; removing an absent member is fine.
    const removeByAlias = await postUsers(
      usersBody(dik, 'c-1', [{ aliases: [email('u2@x.io')], user_ids: ['u1'], should_remove: true }]),
    );
    expect(removeByAlias.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['anon-2']);
  });

  it('accepts an empty change set on an existing cohort', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    expect((await postUsers(usersBody(dik, 'c-1', []))).status).toBe(201);
    expect((await postUsers(usersBody(dik, 'c-1', [{}]))).status).toBe(201);
  });

  it('answers 400 for a cohort that was never named', async () => {
    const dik = await newWorkspace(USERS);
    const answer = await postUsers(usersBody(dik, 'never-named', [{ user_ids: ['u1'] }]));
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain('cohort_id not found: "never-named"');
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items).toEqual([]);
  });

  it.each([
    ['cohort_changes missing', { cohort_changes: undefined }, 'cohort_changes is required'],
    ['cohort_changes not an array', { cohort_changes: { user_ids: ['u1'] } }, 'cohort_changes must be an array'],
    ['a block not an object', { cohort_changes: ['u1'] }, 'cohort_changes[0] must be a JSON object'],
    ['an unknown field in a block', { cohort_changes: [{ external_ids: ['u1'] }] }, 'unknown field "external_ids"'],
    ['user_ids not an array', { cohort_changes: [{ user_ids: 'u1' }] }, 'cohort_changes[0].user_ids must be an array'],
    [
      'a non-string user id',
      { cohort_changes: [{ user_ids: ['u1', 5] }] },
      'cohort_changes[0].user_ids[1] must be a non-empty string',
    ],
    [
      'an empty device id',
      { cohort_changes: [{ device_ids: [''] }] },
      'cohort_changes[0].device_ids[0] must be a non-empty string',
    ],
    [
      'an alias without a label',
      { cohort_changes: [{ aliases: [{ alias_name: 'a' }] }] },
      'aliases[0].alias_label is required',
    ],
    [
      'should_remove not a boolean',
      { cohort_changes: [{ user_ids: ['u1'], should_remove: 'yes' }] },
      'should_remove must be a boolean',
    ],
    ['cohort_id missing', { cohort_id: undefined }, 'cohort_id is required'],
    ['client_secret not a string', { client_secret: ['k'] }, 'client_secret must be a string'],
  ])('answers 400 when %s and applies nothing', async (_case, override, message) => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const answer = await postUsers({ ...usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]), ...override });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain(message);
    expect(await members(dik, 'c-1')).toEqual([]);
  });

  it('accepts 1,000 identifiers across blocks and kinds, and refuses 1,001 without applying any', async () => {
    expect(MAX_IDENTIFIERS_PER_REQUEST).toBe(1000);
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const thousand = [
      { user_ids: ['u1', ...ids('u', 399)], device_ids: ids('d', 300) },
      { aliases: ids('a', 299).map(email), device_ids: ['anon-1'], should_remove: true },
    ];
    const ok = await postUsers(usersBody(dik, 'c-1', thousand));
    expect(ok.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u1']);

    await nameCohort(dik, 'c-2');
    const tooMany = await postUsers(usersBody(dik, 'c-2', [...thousand, { user_ids: ['u2'] }]));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.message).toContain('too many identifiers: 1001');
    expect(await identifiers(dik, 'c-2')).toEqual({ user_ids: [], device_ids: [], aliases: [] });
  });

  it.each([
    [
      'a user id twice in one block',
      [{ user_ids: ['u1', 'u2', 'u1'] }],
      'user_ids "u1" appears twice in cohort_changes[0]',
    ],
    ['a device id twice in one block', [{ device_ids: ['anon-1', 'anon-1'] }], 'device_ids "anon-1" appears twice'],
    [
      'an alias twice in one block',
      [{ aliases: [email('u2@x.io'), email('u2@x.io')] }],
      'aliases {alias_label: "email"',
    ],
    [
      'a user id in an add and a remove block',
      [{ user_ids: ['u1'] }, { user_ids: ['u2', 'u1'], should_remove: true }],
      'in cohort_changes[0] and cohort_changes[1] (added and removed in the same request)',
    ],
    [
      'an alias in an add and a remove block',
      [{ aliases: [email('u2@x.io')], should_remove: true }, { aliases: [email('u2@x.io')] }],
      'added and removed in the same request',
    ],
    [
      'a device id in two add blocks',
      [{ device_ids: ['anon-1'] }, { device_ids: ['anon-1'] }],
      'in cohort_changes[0] and cohort_changes[1]',
    ],
  ])('refuses %s with a 400 and applies nothing', async (_case, changes, message) => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const answer = await postUsers(usersBody(dik, 'c-1', changes));
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain('duplicate identifier');
    expect(answer.json.message).toContain(message);
    expect(await identifiers(dik, 'c-1')).toEqual({ user_ids: [], device_ids: [], aliases: [] });
  });

  it('treats the same value under two kinds, or an alias name under two labels, as different identifiers', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const answer = await postUsers(
      usersBody(dik, 'c-1', [
        {
          user_ids: ['anon-1'],
          device_ids: ['anon-1'],
          aliases: [email('x'), { alias_name: 'x', alias_label: 'phone' }],
        },
      ]),
    );
    expect(answer.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['anon-1']);
  });
});

describe('transport errors, authentication and routing', () => {
  it('answers 400 for a body that is not JSON, not an object, or not sent as application/json', async () => {
    const dik = await newWorkspace();
    const badJson = await call('POST', `/partners/${SLUG}/cohorts`, undefined, { raw: '{"cohort_id": ' });
    expect(badJson).toMatchObject({ status: 400, json: { message: 'request body is not valid JSON' } });
    const array = await postName([nameBody(dik, 'c-1', 'X')]);
    expect(array).toMatchObject({ status: 400, json: { message: 'request body must be a JSON object' } });
    const empty = await call('POST', `/partners/${SLUG}/cohorts/users`, undefined, { raw: '' });
    expect(empty.status).toBe(400);
    const form = await call('POST', `/partners/${SLUG}/cohorts`, nameBody(dik, 'c-1', 'X'), {
      contentType: 'text/plain',
    });
    expect(form.status).toBe(400);
    expect(form.json.message).toContain('Content-Type must be application/json');
    // application/json with a charset parameter is fine.
    const charset = await call('POST', `/partners/${SLUG}/cohorts`, nameBody(dik, 'c-1', 'X'), {
      contentType: 'application/json; charset=utf-8',
    });
    expect(charset.status).toBe(201);
  });

  it('answers 401 "Invalid Partner API key" and "Invalid client secret" on both endpoints, uncharged', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    for (const post of [postName, postUsers]) {
      const body = post === postName ? nameBody(dik, 'c-2', 'X') : usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]);
      const wrongPartner = await post({ ...body, partner_api_key: 'pk-wrong' });
      expect(wrongPartner).toMatchObject({ status: 401, json: { message: 'Invalid Partner API key' } });
      const emptyPartner = await post({ ...body, partner_api_key: '' });
      expect(emptyPartner).toMatchObject({ status: 401, json: { message: 'Invalid Partner API key' } });
      const wrongSecret = await post({ ...body, client_secret: 'not-a-workspace' });
      expect(wrongSecret).toMatchObject({ status: 401, json: { message: 'Invalid client secret' } });
      expectRateLimitHeaders(wrongSecret, DEFAULT_REQUESTS_PER_HOUR, DEFAULT_REQUESTS_PER_HOUR);
    }
    expect(await members(dik, 'c-1')).toEqual([]);
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items.map((c: { id: string }) => c.id)).toEqual([
      'c-1',
    ]);
    // Only the one successful name call was charged to the workspace's budget.
    const next = await postName(nameBody(dik, 'c-3', 'Y'));
    expectRateLimitHeaders(next, DEFAULT_REQUESTS_PER_HOUR, DEFAULT_REQUESTS_PER_HOUR - 2);
  });

  it('answers 404 for a wrong slug or unknown path and 405 for a wrong method, with rate-limit headers', async () => {
    const dik = await newWorkspace();
    const wrongSlug = await call('POST', '/partners/cohort-sync/cohorts', nameBody(dik, 'c-1', 'X'));
    expect(wrongSlug).toMatchObject({ status: 404, json: { message: 'Not found' } });
    expectRateLimitHeaders(wrongSlug, DEFAULT_REQUESTS_PER_HOUR, DEFAULT_REQUESTS_PER_HOUR);
    expect((await call('POST', `/partners/${SLUG}/cohorts/`, nameBody(dik, 'c-1', 'X'))).status).toBe(404);
    expect((await call('POST', `/partners/${SLUG}/cohort/users`, usersBody(dik, 'c-1', []))).status).toBe(404);
    expect((await call('POST', `/partners/${SLUG}/cohorts/users/extra`, usersBody(dik, 'c-1', []))).status).toBe(404);
    expect((await call('GET', '/users/track')).status).toBe(404);

    const get = await call('GET', `/partners/${SLUG}/cohorts`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(get.headers.get('x-ratelimit-limit')).toBe(String(DEFAULT_REQUESTS_PER_HOUR));
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items).toEqual([]);
    // Wrong URLs show up in the request log, so a client building bad paths is visible.
    const log = (await admin('GET', '/requests')).json.items as { path: string; status: number }[];
    expect(log.map((r) => `${r.status} ${r.path}`)).toContain('404 /partners/cohort-sync/cohorts');
  });

  it('answers 413 above 4 MB and accepts a body of exactly 4 MB', async () => {
    expect(MAX_PARTNER_BODY_BYTES).toBe(4 * 1024 * 1024);
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    // Unknown top-level fields are ignored, so padding grows the body without changing its meaning.
    const sized = (bytes: number): string => {
      const base = JSON.stringify({ ...usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]), padding: '' });
      return base.replace('"padding":""', `"padding":"${'x'.repeat(bytes - base.length)}"`);
    };
    const atLimit = sized(MAX_PARTNER_BODY_BYTES);
    expect(Buffer.byteLength(atLimit)).toBe(MAX_PARTNER_BODY_BYTES);
    const over = await call('POST', `/partners/${SLUG}/cohorts/users`, undefined, {
      raw: sized(MAX_PARTNER_BODY_BYTES + 1),
    });
    expect(over.status).toBe(413);
    expect(over.json.message).toContain('request body too large');
    expect(over.headers.get('x-ratelimit-limit')).toBe(String(DEFAULT_REQUESTS_PER_HOUR));
    expect(await members(dik, 'c-1')).toEqual([]);

    const ok = await call('POST', `/partners/${SLUG}/cohorts/users`, undefined, { raw: atLimit });
    expect(ok.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u1']);
  });
});

describe('rate limit', () => {
  it('counts down X-RateLimit-Remaining per Data Import Key and answers 429 beyond the budget until the next hour', async () => {
    expect((await admin('PUT', '/budget', { requestsPerHour: 3 })).json).toEqual({ requestsPerHour: 3 });
    expect((await admin('GET', '/budget')).json).toEqual({ requestsPerHour: 3 });
    const dik = await newWorkspace(USERS);
    const other = await newWorkspace(USERS);

    const first = await postName(nameBody(dik, 'c-1', 'X'));
    expectRateLimitHeaders(first, 3, 2);
    // A request refused for its body is still charged (Braze counts what it receives).
    const invalid = await postUsers(usersBody(dik, 'c-1', 'not-an-array'));
    expect(invalid.status).toBe(400);
    expectRateLimitHeaders(invalid, 3, 1);
    const third = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]));
    expect(third.status).toBe(201);
    expectRateLimitHeaders(third, 3, 0);

    const limited = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u2'] }]));
    expect(limited.status).toBe(429);
    expect(limited.json.message).toContain('Rate limit exceeded');
    expectRateLimitHeaders(limited, 3, 0);
    expect(await members(dik, 'c-1')).toEqual(['u1']);

    // Another Data Import Key has its own budget.
    const otherFirst = await postName(nameBody(other, 'c-1', 'X'));
    expect(otherFirst.status).toBe(201);
    expectRateLimitHeaders(otherFirst, 3, 2);

    // The next clock hour starts a new window.
    clock = NEXT_HOUR_SECONDS * 1000 + 1;
    const renewed = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u2'] }]));
    expect(renewed.status).toBe(201);
    expect(renewed.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(renewed.headers.get('x-ratelimit-reset')).toBe(String(NEXT_HOUR_SECONDS + 3600));
    expect(await members(dik, 'c-1')).toEqual(['u1', 'u2']);
  });

  it('refuses an invalid budget', async () => {
    for (const requestsPerHour of [0, -1, 1.5, 'many']) {
      const answer = await admin('PUT', '/budget', { requestsPerHour });
      expect(answer).toMatchObject({ status: 400, json: { message: 'requestsPerHour must be a positive integer' } });
    }
    expect((await admin('GET', '/budget')).json).toEqual({ requestsPerHour: DEFAULT_REQUESTS_PER_HOUR });
  });
});

describe('fault injection', () => {
  it('answers an injected 429 with its headers and Remaining 0, applies nothing, then recovers', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    const injected = await admin('POST', '/faults', { faults: [{ status: 429, headers: { 'Retry-After': '7' } }] });
    expect(injected.json).toEqual({ faults: [{ status: 429, headers: { 'Retry-After': '7' }, remaining: 1 }] });

    const limited = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]));
    expect(limited).toMatchObject({ status: 429, json: { message: 'Rate limit exceeded' } });
    expect(limited.headers.get('retry-after')).toBe('7');
    expectRateLimitHeaders(limited, DEFAULT_REQUESTS_PER_HOUR, 0);
    expect(await members(dik, 'c-1')).toEqual([]);

    const retried = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]));
    expect(retried.status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u1']);
    expect((await admin('GET', '/faults')).json).toEqual({ faults: [] });
  });

  it('answers an injected 423 on the chosen endpoint only, `count` times', async () => {
    const dik = await newWorkspace(USERS);
    await admin('POST', '/faults', { faults: [{ status: 423, count: 2, path: 'users' }] });
    await nameCohort(dik, 'c-1'); // the name endpoint is not targeted
    for (let i = 0; i < 2; i += 1) {
      const locked = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]));
      expect(locked).toMatchObject({ status: 423, json: { message: 'Resource locked' } });
      expect(locked.headers.get('x-ratelimit-limit')).toBe(String(DEFAULT_REQUESTS_PER_HOUR));
    }
    expect(await members(dik, 'c-1')).toEqual([]);
    expect((await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]))).status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u1']);
  });

  it('answers an injected 500 with a custom body, in queue order after other faults', async () => {
    const dik = await newWorkspace(USERS);
    await admin('POST', '/faults', {
      faults: [
        { status: 503, path: 'cohorts' },
        { status: 500, body: { message: 'boom', code: 7 } },
      ],
    });
    const first = await postName(nameBody(dik, 'c-1', 'X'));
    expect(first).toMatchObject({ status: 503, json: { message: 'Service unavailable' } });
    const second = await postName(nameBody(dik, 'c-1', 'X'));
    expect(second).toMatchObject({ status: 500, json: { message: 'boom', code: 7 } });
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items).toEqual([]);
    expect((await postName(nameBody(dik, 'c-1', 'X'))).status).toBe(201);
  });

  it('delays a request by latencyMs and then processes it normally', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    await admin('POST', '/faults', { faults: [{ latencyMs: 400 }] });
    const started = performance.now();
    const slow = await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]));
    const elapsed = performance.now() - started;
    expect(slow.status).toBe(201);
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(await members(dik, 'c-1')).toEqual(['u1']);
    const fast = performance.now();
    await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u2'] }]));
    expect(performance.now() - fast).toBeLessThan(300);
    const log = (await admin('GET', '/requests')).json.items as { fault?: string; status: number }[];
    expect(log.filter((r) => r.fault !== undefined)).toEqual([
      expect.objectContaining({ status: 201, fault: 'latency 400ms' }),
    ]);
  });

  it('drops the connection without answering or applying the request', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    await admin('DELETE', '/requests');
    await admin('POST', '/faults', { faults: [{ drop: true }] });
    await expect(postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]))).rejects.toThrow(TypeError);
    expect(await members(dik, 'c-1')).toEqual([]);
    expect(await identifiers(dik, 'c-1')).toEqual({ user_ids: [], device_ids: [], aliases: [] });
    expect((await admin('GET', '/requests')).json.items).toEqual([
      expect.objectContaining({ status: 0, fault: 'drop', identifiers: 1 }),
    ]);
    expect((await admin('GET', '/stats')).json).toEqual({ requests: 1, byStatus: { dropped: 1 } });

    expect((await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'] }]))).status).toBe(201);
    expect(await members(dik, 'c-1')).toEqual(['u1']);
  });

  it('validates faults as a whole, lists pending ones and clears them', async () => {
    for (const bad of [
      { status: 99 },
      { count: 2 },
      { drop: 'yes' },
      { status: 500, path: 'users/track' },
      { status: 500, color: 'red' },
    ]) {
      const answer = await admin('POST', '/faults', { faults: [{ status: 423 }, bad] });
      expect(answer.status).toBe(400);
      expect(answer.json.message).toContain('faults[1]');
    }
    expect((await admin('POST', '/faults', {})).json.message).toBe('faults must be an array');
    expect((await admin('GET', '/faults')).json).toEqual({ faults: [] });

    await admin('POST', '/faults', {
      faults: [
        { status: 500, count: 3 },
        { latencyMs: 10, path: 'cohorts' },
      ],
    });
    expect((await admin('GET', '/faults')).json.faults).toEqual([
      { status: 500, count: 3, remaining: 3 },
      { latencyMs: 10, path: 'cohorts', remaining: 1 },
    ]);
    expect((await admin('DELETE', '/faults')).json).toEqual({ faults: [] });
    const dik = await newWorkspace();
    expect((await postName(nameBody(dik, 'c-1', 'X'))).status).toBe(201);
  });
});

describe('admin API', () => {
  it('creates workspaces with random or chosen Data Import Keys and lists them', async () => {
    const random = await admin('POST', '/workspaces');
    expect(random.status).toBe(201);
    expect(random.json.dataImportKey).toMatch(/^sandbox-[0-9a-f-]{36}$/);
    expect((await admin('POST', '/workspaces', { dataImportKey: 'dik-fixed' })).status).toBe(201);
    const again = await admin('POST', '/workspaces', { dataImportKey: 'dik-fixed' });
    expect(again).toMatchObject({ status: 200, json: { dataImportKey: 'dik-fixed' } });
    expect((await admin('POST', '/workspaces', { dataImportKey: '' })).status).toBe(400);
    expect((await admin('POST', '/workspaces', { key: 'x' })).status).toBe(400);

    await admin('POST', '/workspaces/dik-fixed/users', { users: USERS });
    await nameCohort('dik-fixed', 'c-1');
    // Listed as hints only: the full key was given once, when the workspace was created.
    const listed = await admin('GET', '/workspaces');
    expect(listed.json.items).toEqual([
      { dataImportKeyHint: `…${random.json.dataImportKey.slice(-4)}`, users: 0, cohorts: 0 },
      { dataImportKeyHint: '…ixed', users: 4, cohorts: 1 },
    ]);
    expect(JSON.stringify(listed.json)).not.toContain(random.json.dataImportKey);
  });

  it('merges an anonymous user into the identified user seeded with its device id, keeping its cohorts', async () => {
    const dik = await newWorkspace([
      { device_ids: ['anon-7'] },
      { aliases: [email('seven@x.io')] },
      { external_id: 'u8' },
      { external_id: 'u9' },
      { device_ids: ['anon-9'] },
    ]);
    await nameCohort(dik, 'c-1');
    await postUsers(usersBody(dik, 'c-1', [{ device_ids: ['anon-7', 'anon-9'] }]));
    expect(await members(dik, 'c-1')).toEqual(['anon-7', 'anon-9']);

    // u7 identifies both anonymous profiles (one by device id, one by alias): three profiles become two.
    const seeded = await admin('POST', `/workspaces/${dik}/users`, {
      users: [{ external_id: 'u7', device_ids: ['anon-7', 'new-device'], aliases: [email('seven@x.io')] }],
    });
    expect(seeded).toMatchObject({ status: 200, json: { users: 4 } });
    // An existing identified user seeded with an anonymous user's device id absorbs it and its cohorts.
    const absorbed = await admin('POST', `/workspaces/${dik}/users`, {
      users: [{ external_id: 'u9', device_ids: ['anon-9'] }],
    });
    expect(absorbed).toMatchObject({ status: 200, json: { users: 3 } });
    const profiles = (await admin('GET', `/workspaces/${dik}/cohorts/c-1/users`)).json;
    expect(profiles).toEqual({
      items: [
        { external_id: 'u7', device_ids: ['anon-7', 'new-device'], aliases: [email('seven@x.io')] },
        { external_id: 'u9', device_ids: ['anon-9'], aliases: [] },
      ],
      size: 2,
    });
    expect((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items[0]).toMatchObject({ id: 'c-1', size: 2 });

    // Now identified, the user is no longer reachable by its device id, only by external id or alias.
    await nameCohort(dik, 'c-2');
    await postUsers(usersBody(dik, 'c-2', [{ device_ids: ['anon-7'] }]));
    expect(await members(dik, 'c-2')).toEqual([]);
    await postUsers(usersBody(dik, 'c-2', [{ aliases: [email('seven@x.io')] }]));
    expect(await members(dik, 'c-2')).toEqual(['u7']);
    await postUsers(usersBody(dik, 'c-2', [{ user_ids: ['u7', 'u8'] }]));
    expect(await members(dik, 'c-2')).toEqual(['u7', 'u8']);

    // A device id can belong to one identified user only.
    const conflict = await admin('POST', `/workspaces/${dik}/users`, {
      users: [{ external_id: 'u8', device_ids: ['anon-7'] }],
    });
    expect(conflict.status).toBe(400);
    expect(conflict.json.message).toContain('users[0]: its identifiers belong to different identified users');
    expect(conflict.json.message).toMatch(/"u7"/);
    expect(conflict.json.message).toMatch(/"u8"/);
    expect(await members(dik, 'c-2')).toEqual(['u7', 'u8']);
  });

  it('refuses invalid seed data and unknown workspaces or cohorts', async () => {
    const dik = await newWorkspace();
    const cases: [string, unknown, number, string][] = [
      [`/workspaces/${dik}/users`, { users: [{}] }, 400, 'users[0] needs an external_id, a device id or an alias'],
      [
        `/workspaces/${dik}/users`,
        { users: [{ external_id: '' }] },
        400,
        'users[0].external_id must be a non-empty string',
      ],
      [`/workspaces/${dik}/users`, { users: [{ user_id: 'u1' }] }, 400, 'unknown field "user_id"'],
      [`/workspaces/${dik}/users`, { users: 'u1' }, 400, 'users must be an array'],
      ['/workspaces/nope/users', { users: [{ external_id: 'u1' }] }, 404, 'workspace not found: "nope"'],
    ];
    for (const [path, body, status, message] of cases) {
      const answer = await admin('POST', path, body);
      expect(answer.status).toBe(status);
      expect(answer.json.message).toContain(message);
    }
    const badJson = await call('POST', `/sandbox/workspaces/${dik}/users`, undefined, { raw: '{' });
    expect(badJson).toMatchObject({ status: 400, json: { message: 'request body is not valid JSON' } });
    expect((await admin('GET', '/workspaces/nope/cohorts')).status).toBe(404);
    expect((await admin('GET', `/workspaces/${dik}/cohorts/none/users`)).json).toEqual({
      message: 'cohort not found: "none"',
    });
    expect((await admin('GET', `/workspaces/${dik}/cohorts/none/identifiers`)).status).toBe(404);
    expect((await admin('GET', '/workspace')).status).toBe(404);
    const wrongMethod = await admin('DELETE', '/workspaces');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, GET');
    expect((await admin('GET', '/workspaces')).json.items).toEqual([
      { dataImportKeyHint: `…${dik.slice(-4)}`, users: 0, cohorts: 0 },
    ]);
  });

  it('logs partner requests with keys redacted, counts them by status, and clears the log', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    await postUsers(
      usersBody(dik, 'c-1', [
        { user_ids: ['u1'], aliases: [email('u2@x.io')] },
        { device_ids: ['x'], should_remove: true },
      ]),
    );
    await postUsers({ ...usersBody(dik, 'c-1', []), partner_api_key: 'pk-wrong' });

    const log = (await admin('GET', '/requests')).json.items as Record<string, unknown>[];
    expect(log).toHaveLength(3);
    expect(log[1]).toEqual({
      at: new Date(T0).toISOString(),
      method: 'POST',
      path: `/partners/${SLUG}/cohorts/users`,
      status: 201,
      identifiers: 3,
      body: {
        partner_api_key: '[redacted]',
        client_secret: '[redacted]',
        cohort_id: 'c-1',
        cohort_changes: [
          { user_ids: ['u1'], aliases: [email('u2@x.io')] },
          { device_ids: ['x'], should_remove: true },
        ],
      },
    });
    expect(log.map((r) => r.status)).toEqual([201, 201, 401]);
    const text = JSON.stringify(log);
    expect(text).not.toContain(PARTNER_KEY);
    expect(text).not.toContain(dik);
    expect(text).not.toContain('pk-wrong');

    expect((await admin('GET', '/requests?limit=1')).json.items).toEqual([log[2]]);
    expect((await admin('GET', '/requests?limit=-1')).status).toBe(400);
    expect((await admin('GET', '/stats')).json).toEqual({ requests: 3, byStatus: { '201': 2, '401': 1 } });

    expect((await admin('DELETE', '/requests')).status).toBe(200);
    expect((await admin('GET', '/requests')).json.items).toEqual([]);
    expect((await admin('GET', '/stats')).json).toEqual({ requests: 0, byStatus: {} });
  });

  it('resets workspaces, faults, log and budget', async () => {
    const dik = await newWorkspace(USERS);
    await nameCohort(dik, 'c-1');
    await admin('PUT', '/budget', { requestsPerHour: 5 });
    await admin('POST', '/faults', { faults: [{ status: 500 }] });

    expect((await admin('POST', '/reset')).json).toEqual({ message: 'sandbox reset' });
    expect((await admin('GET', '/workspaces')).json.items).toEqual([]);
    expect((await admin('GET', '/faults')).json.faults).toEqual([]);
    expect((await admin('GET', '/requests')).json.items).toEqual([]);
    expect((await admin('GET', '/stats')).json.requests).toBe(0);
    expect((await admin('GET', '/budget')).json.requestsPerHour).toBe(DEFAULT_REQUESTS_PER_HOUR);

    // The old Data Import Key no longer opens anything (and no fault is left to answer first).
    const stale = await postName(nameBody(dik, 'c-1', 'X'));
    expect(stale).toMatchObject({ status: 401, json: { message: 'Invalid client secret' } });
    expect(stale.headers.get('x-ratelimit-limit')).toBe(String(DEFAULT_REQUESTS_PER_HOUR));
  });

  it('offers the same operations in-process through `state`', async () => {
    const { state } = sandbox;
    const dik = state.createWorkspace('dik-in-process');
    expect(state.createWorkspace('dik-in-process')).toBe('dik-in-process');
    expect(state.seedUsers(dik, USERS)).toBe(4);
    await nameCohort(dik, 'c-1', 'In process');
    await postUsers(usersBody(dik, 'c-1', [{ user_ids: ['u1'], device_ids: ['anon-1'] }]));

    expect(state.listCohorts(dik)).toEqual((await admin('GET', `/workspaces/${dik}/cohorts`)).json.items);
    expect(state.cohortUsers(dik, 'c-1')).toEqual((await admin('GET', `/workspaces/${dik}/cohorts/c-1/users`)).json);
    expect(state.cohortIdentifiers(dik, 'c-1')).toEqual({ user_ids: ['u1'], device_ids: ['anon-1'], aliases: [] });
    expect(state.listWorkspaces()).toEqual([{ dataImportKey: dik, users: 4, cohorts: 1 }]);
    expect(state.requests().map((r) => r.status)).toEqual([201, 201]);
    expect(state.stats()).toEqual({ requests: 2, byStatus: { '201': 2 } });

    // Errors carry the status the HTTP API would answer.
    expect(() => state.cohortUsers('nope', 'c-1')).toThrow(SandboxError);
    expect(() => state.seedUsers(dik, [{}])).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => state.injectFaults([{ count: 1 }])).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => state.setBudget(0)).toThrow(expect.objectContaining({ status: 400 }));

    state.setBudget(1);
    state.injectFaults([{ status: 423, path: 'cohorts' }]);
    expect(state.pendingFaults()).toEqual([{ status: 423, path: 'cohorts', remaining: 1 }]);
    expect((await postName(nameBody(dik, 'c-1', 'Y'))).status).toBe(423);
    expect((await postName(nameBody(dik, 'c-1', 'Y'))).status).toBe(201);
    expect((await postName(nameBody(dik, 'c-1', 'Z'))).status).toBe(429);
    state.clearFaults();
    state.clearRequests();
    expect(state.requests()).toEqual([]);
    state.reset();
    expect(state.listWorkspaces()).toEqual([]);
  });
});

describe('command line', () => {
  it('runs the sandbox with the given slug and key until aborted', async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    let url = '';
    const done = runSandboxCli(
      { port: 0, partnerSlug: 'cli-slug', partnerKey: 'cli-key' },
      {
        log: (line) => lines.push(line),
        signal: abort.signal,
        onStarted: (running) => {
          url = running.url;
          running.state.createWorkspace('cli-dik');
        },
      },
    );
    await expect.poll(() => url).not.toBe('');
    // The operator's own partner key is too short for a hint: nothing of it is printed.
    expect(lines).toEqual([
      `Braze sandbox listening on ${url} (partner slug "cli-slug", partner key "…"; admin API under ${url}/sandbox)`,
      'Braze sandbox: admin API open to loopback callers; state in memory only',
    ]);
    const answer = await fetch(`${url}/partners/cli-slug/cohorts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...nameBody('cli-dik', 'c-1', 'X'), partner_api_key: 'cli-key' }),
    });
    expect(answer.status).toBe(201);
    abort.abort();
    await done;
    await expect(fetch(`${url}/sandbox/stats`)).rejects.toThrow(TypeError);
  });
});
