// The events tables of migration 0020 (the contract with behavioral evaluation): columns, defaults, the
// dedupe key, and that the ingestion hook exists with no listener registered by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenedStore, openStore } from '../../src/adapters/store/index.ts';
import { ENGINES } from '../support/engines.ts';

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
});
