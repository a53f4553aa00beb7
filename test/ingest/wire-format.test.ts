// Amplitude's wire format on /2/httpapi, /batch and /identify: every response body, partial acceptance by
// index, limits, CORS, 429 and 503 — against a real store on each engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestedBatch } from '../../src/app/ingest.ts';
import { ENGINES } from '../support/engines.ts';
import { type IngestBed, startIngestBed } from './support.ts';

const DAY = 86_400_000;

describe.each(ENGINES)('ingestion wire format on $name', (engine) => {
  let bed: IngestBed;
  let nowMs = Date.UTC(2026, 0, 10, 12);
  beforeAll(async () => {
    bed = await startIngestBed(engine, { clock: { now: () => new Date(nowMs) } });
  });
  afterAll(async () => {
    await bed.close();
  });
  const send = (events: unknown[], extra: Record<string, unknown> = {}, path = '/2/httpapi') =>
    bed.post(path, { api_key: bed.apiKey, events, ...extra });

  it('answers 200 with code, events_ingested, payload_size_bytes and server_upload_time', async () => {
    const payload = JSON.stringify({
      api_key: bed.apiKey,
      events: [{ event_type: 'Signed Up', user_id: 'ok-user-1', time: 1_700_000_000_000, platform: 'iOS' }],
    });
    const r = await bed.post('/2/httpapi', payload);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      code: 200,
      events_ingested: 1,
      payload_size_bytes: Buffer.byteLength(payload),
      server_upload_time: expect.any(Number),
    });
    const stored = (await bed.storedEvents()).filter((e) => e.user_id === 'ok-user-1');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ event_type: 'Signed Up', time_ms: 1_700_000_000_000, received_ms: nowMs });
    expect(JSON.parse(stored[0].data)).toEqual({ platform: 'iOS' });
  });

  it('keeps every Amplitude field it has no column for, and defaults time to the receive time', async () => {
    const event = {
      event_type: 'Purchase',
      device_id: 'device-fields-1',
      event_properties: { sku: 'A1', price: 9.5, tags: ['x', 'y'], nested: { deep: true } },
      session_id: 1_700_000_000_001,
      event_id: 42,
      library: 'amplitude-node/1.5',
      app_version: '2.1.0',
      os_name: 'Android',
      country: 'FR',
      language: 'fr',
      ip: '$remote',
      price: 9.5,
      quantity: 2,
      revenue: 19,
      productId: 'A1',
      revenueType: 'purchase',
      custom_future_field: { anything: [1, 2] },
    };
    expect((await send([event])).status).toBe(200);
    const row = (await bed.storedEvents()).find((e) => e.device_id === 'device-fields-1');
    expect(row.time_ms).toBe(nowMs);
    expect(JSON.parse(row.event_properties)).toEqual(event.event_properties);
    const { event_type: _t, device_id: _d, event_properties: _p, ...rest } = event;
    expect(JSON.parse(row.data)).toEqual(rest);
  });

  it('stores properties with quotes, backslashes and control characters as sent, each with its own event', async () => {
    // PostgreSQL receives a batch's JSON columns as one text split at U+001E (dialect.ts columnArrays).
    const odd = ['a\u001eb', 'q"uo\\te', 'tab\tnl\n', '\u001f\u0001', '{"x": [1]}', '\u001e'];
    const events = odd.map((v, i) => ({
      event_type: 'Odd',
      user_id: `odd-user-${i}`,
      event_properties: { v, [`k\u001e${i}`]: [v, { v }] },
      user_properties: { [`$set`]: { odd: v } },
      platform: v,
    }));
    expect((await send(events)).status).toBe(200);
    const rows = (await bed.storedEvents()).filter((e) => e.event_type === 'Odd');
    expect(rows).toHaveLength(odd.length);
    for (const [i, v] of odd.entries()) {
      const row = rows.find((e) => e.user_id === `odd-user-${i}`);
      expect(JSON.parse(row.event_properties)).toEqual({ v, [`k\u001e${i}`]: [v, { v }] });
      expect(JSON.parse(row.user_properties)).toEqual({ $set: { odd: v } });
      expect(JSON.parse(row.data)).toEqual({ platform: v });
    }
  });

  it('lists invalid and missing fields by index and keeps the valid events of the request', async () => {
    const long = 'x'.repeat(1025);
    const r = await send([
      { event_type: 'Good', user_id: 'good-user-1' }, // 0 valid
      { user_id: 'good-user-1' }, // 1 no event_type
      { event_type: 'NoIds' }, // 2 no id
      { event_type: 'Placeholder', user_id: 'undefined' }, // 3 placeholder user id
      { event_type: 'Zeros', device_id: '00000000-0000-0000-0000-000000000000' }, // 4 placeholder device id
      { event_type: 'Short', user_id: 'abc' }, // 5 too short: dropped, then no id left
      { event_type: 'LongProp', user_id: 'good-user-1', event_properties: { p: long } }, // 6 string > 1024
      { event_type: 'BadTime', user_id: 'good-user-1', time: 'yesterday' }, // 7 time not epoch ms
      'not an event', // 8
      { event_type: 'Good', device_id: 'good-device-2', user_id: 'abc' }, // 9 valid: short user id dropped
      { event_type: 'Lone', user_id: 'good-user-1', event_properties: { s: '\ud800' } }, // 10 lone surrogate
      { event_type: 'BadOp', user_id: 'good-user-1', user_properties: { $frobnicate: { a: 1 } } }, // 11
    ]);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      code: 400,
      error: 'Invalid field values on some events',
      events_with_invalid_fields: {
        user_id: [3],
        device_id: [4],
        event_properties: [6, 10],
        time: [7],
        event: [8],
        user_properties: [11],
      },
      events_with_missing_fields: { event_type: [1], user_id: [2, 5], device_id: [2, 5] },
      events_ingested: 2,
    });
    const stored = (await bed.storedEvents()).filter((e) => e.event_type === 'Good');
    expect(stored.map((e) => [e.user_id, e.device_id])).toEqual([
      ['good-user-1', null],
      [null, 'good-device-2'],
    ]);
  });

  it('takes min_id_length from options', async () => {
    const r = await send([{ event_type: 'Tiny', user_id: 'ab' }], { options: { min_id_length: 2 } });
    expect(r.body).toMatchObject({ code: 200, events_ingested: 1 });
    expect((await bed.storedEvents()).some((e) => e.user_id === 'ab')).toBe(true);
    const bad = await send([{ event_type: 'Tiny', user_id: 'ab' }], { options: { min_id_length: 'two' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      code: 400,
      error: 'Invalid JSON request body',
      invalid_field: 'options.min_id_length',
    });
  });

  it('answers request-level problems with the error the SDK expects', async () => {
    const cases: [unknown, number, Record<string, unknown>][] = [
      ['', 400, { code: 400, error: 'Missing request body' }],
      ['{"api_key": ', 400, { code: 400, error: 'Invalid JSON request body' }],
      ['[1,2]', 400, { code: 400, error: 'Invalid JSON request body' }],
      [{ events: [] }, 400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' }],
      [{ api_key: bed.apiKey }, 400, { code: 400, error: 'Request missing required field', missing_field: 'events' }],
      [{ api_key: bed.apiKey, events: {} }, 400, { code: 400, error: 'Invalid event JSON' }],
      [
        { api_key: 'cs_ingest_not-a-key', events: [{ event_type: 'X', user_id: 'someone-1' }] },
        400,
        { code: 400, error: 'Invalid API key' },
      ],
    ];
    for (const [body, status, expected] of cases) {
      const r = await bed.post('/2/httpapi', typeof body === 'string' ? body : JSON.stringify(body));
      expect([r.status, r.body]).toEqual([status, expected]);
    }
  });

  it('refuses with 413 over 2,000 events, and over 1 MB on /2/httpapi but not on /batch', async () => {
    const many = Array.from({ length: 2001 }, (_, i) => ({ event_type: 'Many', user_id: `many-user-${i}` }));
    expect(await send(many)).toEqual({ status: 413, body: { code: 413, error: 'Payload too large' } });
    const big = Array.from({ length: 300 }, (_, i) => ({
      event_type: 'Big',
      device_id: `big-device-${i % 3}`,
      event_properties: {
        blob: 'b'.repeat(1000),
        more: 'm'.repeat(1000),
        again: 'a'.repeat(1000),
        last: 'l'.repeat(900),
      },
    }));
    expect(Buffer.byteLength(JSON.stringify({ api_key: bed.apiKey, events: big }))).toBeGreaterThan(1024 * 1024);
    expect(await send(big)).toEqual({ status: 413, body: { code: 413, error: 'Payload too large' } });
    expect((await bed.storedEvents()).filter((e) => e.event_type === 'Big')).toHaveLength(0);
    const batch = await send(big, {}, '/batch');
    expect(batch.body).toMatchObject({ code: 200, events_ingested: 300 });
    expect((await bed.storedEvents()).filter((e) => e.event_type === 'Big')).toHaveLength(300);
  });

  it('drops an insert_id seen from the same device within 7 days, not from another device or later', async () => {
    const e = (device: string) => ({ event_type: 'Dedupe', device_id: device, insert_id: 'ins-1' });
    const count = async () => (await bed.storedEvents()).filter((x) => x.event_type === 'Dedupe').length;
    expect((await send([e('dedupe-dev-1'), e('dedupe-dev-1')])).body).toMatchObject({ code: 200, events_ingested: 2 });
    expect(await count()).toBe(1);
    await send([e('dedupe-dev-1')]);
    expect(await count()).toBe(1);
    await send([e('dedupe-dev-2')]);
    expect(await count()).toBe(2);
    nowMs += 6 * DAY;
    await send([e('dedupe-dev-1')]);
    expect(await count()).toBe(2);
    nowMs += 2 * DAY; // 8 days after the first sighting, 2 after the last refusal
    await send([e('dedupe-dev-1')]);
    expect(await count()).toBe(3);
    await send([e('dedupe-dev-1')]); // renewed: a duplicate again
    expect(await count()).toBe(3);
    // One request mixing a new key, an expired one (dedupe-dev-2's, 8 days old) and a fresh duplicate.
    nowMs += 2 * DAY;
    const mixed = [{ ...e('dedupe-dev-1'), insert_id: 'ins-2' }, e('dedupe-dev-2'), e('dedupe-dev-1')];
    expect((await send(mixed)).body).toMatchObject({ code: 200, events_ingested: 3 });
    expect(await count()).toBe(5);
  });

  it('answers CORS preflights and tags responses for any origin', async () => {
    for (const url of ['/2/httpapi', '/batch', '/identify']) {
      const pre = await bed.app.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: 'http://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,accept',
        },
      });
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('*');
      expect(pre.headers['access-control-allow-methods']).toContain('POST');
      expect(pre.headers['access-control-allow-headers']).toBe('content-type,accept');
    }
    const r = await bed.app.inject({
      method: 'POST',
      url: '/2/httpapi',
      headers: { origin: 'http://app.example', 'content-type': 'application/json' },
      payload: JSON.stringify({ api_key: 'wrong', events: [{ event_type: 'X', user_id: 'cors-user' }] }),
    });
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.json()).toEqual({ code: 400, error: 'Invalid API key' });
  });

  it('accepts a JSON body sent as text/plain (navigator.sendBeacon) or without a content type', async () => {
    const payload = JSON.stringify({
      api_key: bed.apiKey,
      events: [{ event_type: 'Beacon', device_id: 'beacon-device' }],
    });
    for (const headers of [{ 'content-type': 'text/plain;charset=UTF-8' }, {}]) {
      const r = await bed.app.inject({ method: 'POST', url: '/2/httpapi', headers, payload });
      expect(r.json()).toMatchObject({ code: 200, events_ingested: 1 });
    }
  });

  it('answers /identify per operation, with missing_event for a bad identification', async () => {
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const identify = (identification: unknown, key = bed.apiKey) =>
      bed.post(
        '/identify',
        form({
          api_key: key,
          identification: typeof identification === 'string' ? identification : JSON.stringify(identification),
        }),
        {
          'content-type': 'application/x-www-form-urlencoded',
        },
      );
    const user = 'identify-user-1';
    expect(
      (await identify({ user_id: user, user_properties: { plan: 'free', tags: ['a'], n: 1, gone: 1 } })).body,
    ).toMatchObject({
      code: 200,
      events_ingested: 1,
    });
    const r = await identify([
      {
        user_id: user,
        user_properties: {
          $set: { plan: 'pro' },
          $setOnce: { plan: 'ignored', first: 'yes' },
          $add: { n: 4 },
          $append: { tags: 'b' },
          $prepend: { tags: 'z' },
          $unset: { gone: '-' },
        },
      },
      { user_id: user, user_properties: { $remove: { tags: 'a' } } },
    ]);
    expect(r.body).toMatchObject({ code: 200, events_ingested: 2 });
    expect((await bed.profileOf({ userId: user }))?.properties).toEqual({
      plan: 'pro',
      first: 'yes',
      n: 5,
      tags: ['z', 'b'],
    });
    expect((await identify({ user_id: user, user_properties: { $clearAll: '-' } })).status).toBe(200);
    expect((await bed.profileOf({ userId: user }))?.properties).toEqual({});

    expect((await identify('not json')).body).toEqual({ code: 400, error: 'missing_event' });
    expect((await identify([])).body).toEqual({ code: 400, error: 'missing_event' });
    const mixed = await identify([
      { user_id: user, user_properties: { plan: 'x', $set: { y: 1 } } },
      { user_id: user, user_properties: { kept: true } },
      { user_properties: { orphan: true } },
    ]);
    expect(mixed).toEqual({
      status: 400,
      body: {
        code: 400,
        error: 'Invalid field values on some events',
        events_with_invalid_fields: { user_properties: [0] },
        events_with_missing_fields: { user_id: [2], device_id: [2] },
        events_ingested: 1,
      },
    });
    expect((await bed.profileOf({ userId: user }))?.properties).toEqual({ kept: true });
    expect((await identify({ user_id: user, user_properties: { a: 1 } }, 'bad-key')).body).toEqual({
      code: 400,
      error: 'Invalid API key',
    });
    const noKey = await bed.post('/identify', form({ identification: '{}' }), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(noKey.body).toEqual({ code: 400, error: 'Request missing required field', missing_field: 'api_key' });
  });

  it('applies user_properties of events in order, $identify operations included', async () => {
    const user = 'event-props-user';
    const r = await send([
      { event_type: 'Viewed', user_id: user, user_properties: { plan: 'free' } },
      { event_type: '$identify', user_id: user, user_properties: { $set: { plan: 'pro' }, $add: { visits: 1 } } },
      { event_type: '$identify', user_id: user, user_properties: { $add: { visits: 2 }, $setOnce: { plan: 'no' } } },
    ]);
    expect(r.status).toBe(200);
    expect((await bed.profileOf({ userId: user }))?.properties).toEqual({ plan: 'pro', visits: 3 });
    const rows = (await bed.storedEvents()).filter((e) => e.user_id === user);
    expect(JSON.parse(rows[1].user_properties)).toEqual({ $set: { plan: 'pro' }, $add: { visits: 1 } });
  });

  it('links a device to the user, merges an anonymous profile with its events, and tells listeners', async () => {
    const heard: IngestedBatch[] = [];
    const remove = bed.c.ingestion.onIngested((e) => {
      expect(e.projectId).toBe(bed.projectId);
      heard.push(e);
    });
    try {
      // An anonymous device, then identified by an event carrying both ids: the same profile, now with the user.
      await send([{ event_type: 'Open', device_id: 'link-device-A' }]);
      const anon = await bed.profileOf({ deviceId: 'link-device-A' });
      expect(anon?.userId).toBeNull();
      await send([{ event_type: 'Login', device_id: 'link-device-A', user_id: 'link-user-1' }]);
      const linked = await bed.profileOf({ userId: 'link-user-1' });
      expect(linked?.id).toBe(anon?.id);
      expect(linked?.deviceIds).toEqual(['link-device-A']);

      // A second anonymous device with history and properties merges into the identified user.
      await send([
        { event_type: 'Browse', device_id: 'link-device-B', user_properties: { referrer: 'ad' } },
        { event_type: 'Browse', device_id: 'link-device-B' },
      ]);
      const other = await bed.profileOf({ deviceId: 'link-device-B' });
      expect(other?.id).not.toBe(linked?.id);
      heard.length = 0;
      await send([
        { event_type: 'Login', device_id: 'link-device-B', user_id: 'link-user-1' },
        { event_type: 'After', device_id: 'link-device-B' },
      ]);
      const merged = await bed.profileOf({ userId: 'link-user-1' });
      expect(merged?.id).toBe(linked?.id);
      expect(merged?.deviceIds).toEqual(['link-device-A', 'link-device-B']);
      expect(merged?.properties).toMatchObject({ referrer: 'ad' });
      const rows = (await bed.storedEvents()).filter((e) => e.device_id === 'link-device-B');
      expect(rows).toHaveLength(4);
      expect(new Set(rows.map((e) => e.profile_id))).toEqual(new Set([linked?.id]));
      expect(heard).toHaveLength(1);
      expect([...(heard[0]?.profileIds ?? [])].sort()).toEqual([linked?.id, other?.id].sort());
      expect([...(heard[0]?.eventTypes ?? [])].sort()).toEqual(['After', 'Login']);
      expect(heard[0]?.propertiesChanged).toBe(false);
      // Both sides of the merge, whatever cohorts read; the events under the profile they belong to now.
      expect([...(heard[0]?.identityProfiles ?? [])].sort()).toEqual([linked?.id, other?.id].sort());
      expect(heard[0]?.events).toEqual([
        { profileId: linked?.id, eventType: 'Login', eventProperties: {} },
        { profileId: linked?.id, eventType: 'After', eventProperties: {} },
      ]);

      heard.length = 0;
      await send([{ event_type: '$identify', user_id: 'link-user-1', user_properties: { $set: { plan: 'pro' } } }]);
      expect(heard).toEqual([
        {
          projectId: bed.projectId,
          profileIds: [linked?.id],
          eventTypes: ['$identify'],
          propertiesChanged: true,
          events: [{ profileId: linked?.id, eventType: '$identify', eventProperties: {} }],
          propertyProfiles: [linked?.id],
          identityProfiles: [],
        },
      ]);
    } finally {
      remove();
    }
  });

  it.runIf(engine.name === 'sqlite')('answers 503 (retry later) while the database is read-only', async () => {
    const before = (await bed.storedEvents()).length;
    await bed.c.store.pragmaEverywhere('query_only = 1');
    try {
      const r = await send([{ event_type: 'ReadOnly', user_id: 'readonly-user' }]);
      expect(r).toEqual({ status: 503, body: { code: 503, error: expect.stringMatching(/^Service unavailable/) } });
    } finally {
      await bed.c.store.pragmaEverywhere('query_only = 0');
    }
    expect((await bed.storedEvents()).length).toBe(before);
    expect((await send([{ event_type: 'Ok', user_id: 'readonly-user' }])).status).toBe(200);
  });
});

describe.each(ENGINES)('budget and closed store on $name', (engine) => {
  it('answers 429 with Amplitude body over the events/s budget, then accepts again', async () => {
    let nowMs = Date.UTC(2026, 0, 1);
    const bed = await startIngestBed(engine, { eventsPerSecond: 10, clock: { now: () => new Date(nowMs) } });
    try {
      const batch = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          event_type: 'Burst',
          user_id: `burst-user-${i % 2}`,
          device_id: 'burst-device',
        }));
      expect((await bed.post('/2/httpapi', { api_key: bed.apiKey, events: batch(10) })).status).toBe(200);
      const r = await bed.post('/2/httpapi', { api_key: bed.apiKey, events: batch(3) });
      expect(r).toEqual({
        status: 429,
        body: {
          code: 429,
          error: expect.stringContaining('Too many requests'),
          eps_threshold: 10,
          throttled_devices: { 'burst-device': 3 },
          throttled_users: { 'burst-user-0': 2, 'burst-user-1': 1 },
          throttled_events: [0, 1, 2],
          exceeded_daily_quota_devices: {},
          exceeded_daily_quota_users: {},
        },
      });
      expect(await bed.storedEvents()).toHaveLength(10);
      nowMs += 500; // half a second refills 5
      expect((await bed.post('/2/httpapi', { api_key: bed.apiKey, events: batch(3) })).status).toBe(200);
      expect(await bed.storedEvents()).toHaveLength(13);
    } finally {
      await bed.close();
    }
  });

  it('answers 503 once the store is closed', async () => {
    const bed = await startIngestBed(engine);
    await bed.c.store.close();
    try {
      const r = await bed.post('/2/httpapi', {
        api_key: bed.apiKey,
        events: [{ event_type: 'X', user_id: 'closed-user' }],
      });
      expect(r).toEqual({ status: 503, body: { code: 503, error: expect.stringMatching(/^Service unavailable/) } });
    } finally {
      await bed.close();
    }
  });
});
