// The events tables of migration 0020 (the contract with behavioral evaluation): columns, defaults, the
// dedupe key, and that the ingestion hook exists with no listener registered by default. And the store's batch
// statements of ingestion (event-repo.ts; on SQLite compiled by hand, bound-batch.ts): batch sizes on both
// sides of the power-of-two padding and past a statement's chunk keep every row and value as sent, and the
// keys claimed by one batch make the same keys duplicates in the next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenedStore, openStore } from '../../src/adapters/store/index.ts';
import type { EventToStore } from '../../src/ports/event-store.ts';
import { ENGINES } from '../support/engines.ts';

const at = (receivedMs: number) => ({
  receivedMs,
  now: new Date(receivedMs).toISOString(),
  dedupeSinceMs: receivedMs - 7 * 86_400_000,
});

const event = (batch: number, i: number): EventToStore => ({
  eventType: i % 2 === 0 ? 'View' : 'Purchase',
  userId: `user-${i % 37}`,
  deviceId: i % 3 === 0 ? null : `device-${i % 37}`,
  timeMs: 1_893_456_000_000 + batch * 10_000 + i,
  insertId: `b${batch}-i${i}`,
  eventProperties: { n: i, text: `quote " backslash \\ line\nend ${i}`, nested: { list: [i, null, true] } },
  userProperties: {},
  data: { event_id: i, library: 'test/1' },
});

describe.each(ENGINES)('0020_events on $name', (engine) => {
  let store: OpenedStore;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await engine.fresh();
    drop = fresh.drop;
    store = await openStore(fresh.location);
  });
  afterAll(async () => {
    await store.close();
    await drop();
  });

  it('stores an event with JSON defaults and big epoch-ms times', async () => {
    const db = store.raw.db;
    const time = 1_893_456_000_123; // 2030, beyond 32 bits
    await db
      .insertInto('events')
      .values({
        project_id: 'p',
        profile_id: 7,
        event_type: 'Purchase',
        time_ms: time,
        insert_id: null,
        user_id: 'u-1',
        device_id: null,
        data: '{"platform":"Web"}',
        received_ms: time + 5,
      })
      .execute();
    const row = await db.selectFrom('events').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      project_id: 'p',
      profile_id: 7,
      event_type: 'Purchase',
      time_ms: time,
      event_properties: '{}',
      user_properties: '{}',
      received_ms: time + 5,
    });
    expect(typeof row.id).toBe('number');
  });

  it('keys dedupe rows by project, scope and insert_id', async () => {
    const db = store.raw.db;
    await db.insertInto('event_dedupe').values({ project_id: 'p', scope: 'd1', insert_id: 'i1', at_ms: 1 }).execute();
    await db.insertInto('event_dedupe').values({ project_id: 'p', scope: 'd2', insert_id: 'i1', at_ms: 1 }).execute();
    await expect(
      db.insertInto('event_dedupe').values({ project_id: 'p', scope: 'd1', insert_id: 'i1', at_ms: 2 }).execute(),
    ).rejects.toThrow();
  });

  it('stores batches of every size as sent, and their keys dedupe the next batch', async () => {
    const sizes = [1, 2, 3, 127, 128, 129, 2_000];
    let total = 0;
    for (const [b, size] of sizes.entries()) {
      const events = Array.from({ length: size }, (_, i) => event(b, i));
      const stored = await store.events.ingest('pb', events, at(1_000_000 + b));
      expect(stored).toMatchObject({ stored: size, duplicates: 0 });
      total += size;
      // The same batch again, with one new event: only that one is stored.
      const again = await store.events.ingest('pb', [...events, event(b, size)], at(2_000_000 + b));
      expect(again).toMatchObject({ stored: 1, duplicates: size });
      total += 1;
    }
    const rows = await store.raw.db
      .selectFrom('events')
      .select(['insert_id', 'event_type', 'time_ms', 'user_id', 'device_id', 'event_properties', 'data', 'received_ms'])
      .where('project_id', '=', 'pb')
      .execute();
    expect(rows).toHaveLength(total);
    const byKey = new Map(rows.map((r) => [r.insert_id, r]));
    for (const [b, size] of sizes.entries())
      for (const i of [0, size - 1, size]) {
        const e = event(b, i);
        const row = byKey.get(e.insertId);
        expect(row).toMatchObject({
          event_type: e.eventType,
          time_ms: e.timeMs,
          user_id: e.userId,
          device_id: e.deviceId,
          received_ms: (i === size ? 2_000_000 : 1_000_000) + b,
        });
        expect(JSON.parse(row!.event_properties)).toEqual(e.eventProperties);
        expect(JSON.parse(row!.data)).toEqual(e.data);
      }
    const keys = await store.raw.db
      .selectFrom('event_dedupe')
      .select('insert_id')
      .where('project_id', '=', 'pb')
      .execute();
    expect(keys).toHaveLength(total);
  });
});
