// The sandbox's POST /users/track over real HTTP (docs/sandbox.md): REST API keys and their permissions,
// the 75-object limit, update-only semantics, array add/remove with the 500-item cap, per-object errors in a
// 201, the burst limit with its headers, injected faults, and the admin views of attributes and segments.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ARRAY_ITEMS, MAX_TRACK_OBJECTS, type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';

let clock = Date.UTC(2030, 0, 1, 10, 30, 0);
let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ now: () => clock, trackBurst: { requests: 5, windowMs: 3_000 } });
});
afterAll(async () => sandbox.close());
beforeEach(() => {
  sandbox.state.reset();
  clock += 10_000; // a fresh burst window for every test
});

interface Answer {
  status: number;
  headers: Headers;
  json: any; // checked field by field below
}

async function track(key: string | null, body: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(`${sandbox.url}/users/track`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(key !== null && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

async function admin(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${sandbox.url}/sandbox${path}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** A workspace with users u1, u2 and an alias-only user, and a REST key with users.track. */
async function workspace(permissions?: string[]) {
  const dik = (await admin('POST', '/workspaces')).json.dataImportKey as string;
  await admin('POST', `/workspaces/${dik}/users`, {
    users: [
      { external_id: 'u1' },
      { external_id: 'u2' },
      { device_ids: ['anon'], aliases: [{ alias_name: 'a@x.io', alias_label: 'email' }] },
    ],
  });
  const created = await admin('POST', `/workspaces/${dik}/rest-keys`, permissions ? { permissions } : {});
  expect(created.status).toBe(201);
  return { dik, key: created.json.restApiKey as string };
}

const segment = async (dik: string, query: string) =>
  (await admin('GET', `/workspaces/${dik}/attribute-segment?${query}`)).json as { items: any[]; size: number };

describe('/users/track authentication', () => {
  it('answers 401 "Invalid API Key" without or with an unknown key, 403 "Access Denied" without users.track', async () => {
    const { dik } = await workspace();
    expect(await track(null, { attributes: [] })).toMatchObject({ status: 401, json: { message: 'Invalid API Key' } });
    expect(await track('nope-0000', { attributes: [] })).toMatchObject({ status: 401 });
    const readOnly = (await admin('POST', `/workspaces/${dik}/rest-keys`, { permissions: ['users.export.ids'] })).json;
    expect(await track(readOnly.restApiKey, { attributes: [{ external_id: 'u1', x: 1 }] })).toMatchObject({
      status: 403,
      json: { message: 'Access Denied' },
    });
  });

  it('answers an empty body with the 400 that proves a good key (the connection test)', async () => {
    const { key } = await workspace();
    expect(await track(key, {})).toMatchObject({
      status: 400,
      json: { message: "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields." },
    });
  });
});

describe('/users/track attributes', () => {
  it('adds and removes array values on existing users only, skipping unknown ones silently', async () => {
    const { dik, key } = await workspace();
    const added = await track(key, {
      attributes: [
        { external_id: 'u1', _update_existing_only: true, cohorts: { add: ['power'] } },
        { external_id: 'ghost', _update_existing_only: true, cohorts: { add: ['power'] } },
        { user_alias: { alias_name: 'a@x.io', alias_label: 'email' }, cohorts: { add: ['power', 'eu'] } },
      ],
    });
    expect(added).toMatchObject({ status: 201, json: { message: 'success', attributes_processed: 3 } });
    expect(added.json.errors).toBeUndefined();
    const power = await segment(dik, 'attribute=cohorts&includes=power');
    expect(power.size).toBe(2);
    expect(power.items.map((p) => p.external_id ?? p.aliases[0].alias_name)).toEqual(['u1', 'a@x.io']);
    const profiles = (await admin('GET', `/workspaces/${dik}/profiles`)).json;
    expect(profiles).toMatchObject({ skippedUnknown: 1, created: 0 });
    expect(profiles.items.find((p: any) => p.external_id === 'u1').custom_attributes).toEqual({ cohorts: ['power'] });

    await track(key, {
      attributes: [{ external_id: 'u1', _update_existing_only: true, cohorts: { remove: ['power'] } }],
    });
    expect((await segment(dik, 'attribute=cohorts&includes=power')).size).toBe(1);
  });

  it('creates a profile when an external_id object is not update-only (what the client must never do)', async () => {
    const { dik, key } = await workspace();
    await track(key, { attributes: [{ external_id: 'new-user', in_x: true }] });
    expect((await admin('GET', `/workspaces/${dik}/profiles`)).json.created).toBe(1);
    expect((await segment(dik, 'attribute=in_x&is=true')).items.map((p) => p.external_id)).toEqual(['new-user']);
  });

  it('sets and clears boolean attributes', async () => {
    const { dik, key } = await workspace();
    await track(key, {
      attributes: [
        { external_id: 'u1', _update_existing_only: true, in_vip: true },
        { external_id: 'u2', _update_existing_only: true, in_vip: false },
      ],
    });
    expect((await segment(dik, 'attribute=in_vip&is=true')).items.map((p) => p.external_id)).toEqual(['u1']);
    expect((await segment(dik, 'attribute=in_vip&is=false')).items.map((p) => p.external_id)).toEqual(['u2']);
  });

  it('keeps at most 500 array values, dropping the oldest, and moves a re-added value to the end', async () => {
    const { dik, key } = await workspace();
    const values = Array.from({ length: MAX_ARRAY_ITEMS + 2 }, (_, i) => `v${i}`);
    await track(key, { attributes: [{ external_id: 'u1', _update_existing_only: true, cohorts: { add: values } }] });
    await track(key, { attributes: [{ external_id: 'u1', _update_existing_only: true, cohorts: { add: ['v5'] } }] });
    const u1 = (await admin('GET', `/workspaces/${dik}/profiles`)).json.items.find((p: any) => p.external_id === 'u1');
    const stored = u1.custom_attributes.cohorts as string[];
    expect(stored).toHaveLength(MAX_ARRAY_ITEMS);
    expect(stored[0]).toBe('v2'); // v0 and v1 were dropped
    expect(stored.at(-1)).toBe('v5');
    expect((await segment(dik, 'attribute=cohorts&includes=v0')).size).toBe(0);
  });

  it('reports per-object errors by index in a 201 and applies every other object', async () => {
    const { dik, key } = await workspace();
    const answer = await track(key, {
      attributes: [
        { external_id: 'u1', _update_existing_only: true, cohorts: { add: ['ok'] } },
        { _update_existing_only: true, cohorts: { add: ['ok'] } },
        { external_id: 'x'.repeat(988), _update_existing_only: true, cohorts: { add: ['ok'] } },
        { external_id: 'u2', user_alias: { alias_name: 'a', alias_label: 'b' }, cohorts: { add: ['ok'] } },
        { external_id: 'u2', _update_existing_only: true, cohorts: { add: ['ok'] } },
      ],
    });
    expect(answer.status).toBe(201);
    expect(answer.json.errors).toEqual([
      {
        type: "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required",
        input_array: 'attributes',
        index: 1,
      },
      { type: "'external_id' must be fewer than 988 bytes", input_array: 'attributes', index: 2 },
      {
        type: "only one of 'external_id', 'braze_id' or 'user_alias' may be given",
        input_array: 'attributes',
        index: 3,
      },
    ]);
    expect((await segment(dik, 'attribute=cohorts&includes=ok')).items.map((p) => p.external_id)).toEqual(['u1', 'u2']);
  });

  it('refuses more than 75 objects with "Max Input Length Exceeded" and applies none', async () => {
    const { dik, key } = await workspace();
    const many = Array.from({ length: MAX_TRACK_OBJECTS + 1 }, () => ({
      external_id: 'u1',
      _update_existing_only: true,
      cohorts: { add: ['too-many'] },
    }));
    expect(await track(key, { attributes: many })).toMatchObject({
      status: 400,
      json: { message: 'Max Input Length Exceeded' },
    });
    expect((await segment(dik, 'attribute=cohorts&includes=too-many')).size).toBe(0);
    expect((await track(key, { attributes: many.slice(0, MAX_TRACK_OBJECTS) })).status).toBe(201);
  });
});

describe('/users/track limits and faults', () => {
  it('enforces the burst limit per key with headers in the seconds-remaining form and a Retry-After', async () => {
    const { key } = await workspace();
    const body = { attributes: [{ external_id: 'u1', _update_existing_only: true, n: 1 }] };
    for (let i = 0; i < 5; i++) {
      const ok = await track(key, body);
      expect(ok.status).toBe(201);
      expect(ok.headers.get('x-ratelimit-remaining')).toBe(String(4 - i));
    }
    const limited = await track(key, body);
    expect(limited.status).toBe(429);
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(3); // seconds remaining, not an epoch
    expect(limited.headers.get('x-ratelimit-retry-after')).toBe(String(reset));
    // Another key has its own budget; the next window starts afresh.
    const other = await workspace();
    expect((await track(other.key, body)).status).toBe(201);
    clock += 3_000;
    expect((await track(key, body)).status).toBe(201);
  });

  it('applies injected faults to /users/track only when asked', async () => {
    const { dik, key } = await workspace();
    await admin('POST', '/faults', {
      faults: [
        { status: 503, path: 'track' },
        { status: 500, path: 'users' },
      ],
    });
    const body = { attributes: [{ external_id: 'u1', _update_existing_only: true, cohorts: { add: ['f'] } }] };
    expect((await track(key, body)).status).toBe(503);
    expect((await segment(dik, 'attribute=cohorts&includes=f')).size).toBe(0);
    expect((await track(key, body)).status).toBe(201);
    expect((await admin('GET', '/faults')).json.faults).toHaveLength(1); // the partner fault is still queued
  });

  it('sets the burst budget through the admin API, and refuses nonsense', async () => {
    expect((await admin('PUT', '/track-budget', { requests: 2, windowMs: 1_000 })).json).toEqual({
      requests: 2,
      windowMs: 1_000,
    });
    expect((await admin('PUT', '/track-budget', { requests: 0 })).status).toBe(400);
    expect((await admin('GET', '/track-budget')).json).toEqual({ requests: 2, windowMs: 1_000 });
  });
});
