// SQLite ingestion's writes on a worker thread (src/adapters/store/ingest-writer.ts, opt-in): the same store
// semantics as on the main connection — dedupe, identity, outcome — seen by the main connection at once,
// unavailability typed across the thread, and nothing accepted after close.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenedStore, openStore } from '../../src/adapters/store/index.ts';
import type { ThreadedEventStore } from '../../src/adapters/store/ingest-writer.ts';
import { DEDUPE_WINDOW_MS } from '../../src/app/ingest.ts';
import { validateEvents } from '../../src/domain/amplitude-event.ts';
import { StoreUnavailableError } from '../../src/ports/event-store.ts';
import { ENGINES } from '../support/engines.ts';

const sqlite = ENGINES.find((e) => e.name === 'sqlite')!;
const NOW = Date.UTC(2026, 0, 10, 12);

describe('ingestion writer thread on sqlite', () => {
  let store: OpenedStore;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await sqlite.fresh();
    drop = fresh.drop;
    if (fresh.location.kind !== 'sqlite') throw new Error('sqlite expected');
    store = await openStore({ ...fresh.location, ingestThread: true });
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  const ingest = (raw: unknown[]) => {
    const { valid } = validateEvents(raw, { minIdLength: 5, receivedMs: NOW });
    return store.events.ingest('prj_w', valid, {
      receivedMs: NOW,
      now: new Date(NOW).toISOString(),
      dedupeSinceMs: NOW - DEDUPE_WINDOW_MS,
    });
  };
  const stored = async () =>
    (await store.raw.db.selectFrom('events').select(['event_type', 'user_id']).orderBy('id').execute()).map(
      (e) => `${e.event_type}:${e.user_id}`,
    );

  it('stores, deduplicates and links as the main connection would, visible there once answered', async () => {
    const e = (type: string, insert: string) => ({
      event_type: type,
      user_id: 'writer-user-1',
      device_id: 'writer-device-1',
      insert_id: insert,
      event_properties: { page: '/p/1' },
    });
    const first = await ingest([e('View', 'ins-a'), e('Buy', 'ins-b'), e('View', 'ins-a')]);
    expect(first).toMatchObject({ stored: 2, duplicates: 1, eventTypes: ['View', 'Buy'] });
    expect(first.events.map((x) => x.eventProperties)).toEqual([{ page: '/p/1' }, { page: '/p/1' }]);
    expect(await stored()).toEqual(['View:writer-user-1', 'Buy:writer-user-1']);
    const again = await Promise.all([ingest([e('View', 'ins-a')]), ingest([e('Click', 'ins-c')])]);
    expect(again.map((o) => o.stored)).toEqual([0, 1]);
    const profile = await store.membership.findProfile('prj_w', { deviceId: 'writer-device-1' });
    expect(profile?.userId).toBe('writer-user-1');
  });

  it("leaves WAL checkpoints to the main connection's checkpointer thread", async () => {
    // SQLite's automatic checkpoint (every 1,000 pages) would run inside the writer's COMMITs, copying the WAL
    // and fsyncing on the writer's thread; only a far bound is left as a safety net.
    const writer = store.events as ThreadedEventStore;
    expect(await writer.pragma('wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 65_536 }]);
  });

  it('answers unavailable (typed) while the writer cannot write, and stores again after', async () => {
    await store.pragmaEverywhere('query_only = 1');
    try {
      await expect(ingest([{ event_type: 'RO', user_id: 'writer-user-2' }])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      await store.pragmaEverywhere('query_only = 0');
    }
    expect((await ingest([{ event_type: 'RW', user_id: 'writer-user-2' }])).stored).toBe(1);
    expect((await stored()).filter((s) => s.endsWith('writer-user-2'))).toEqual(['RW:writer-user-2']);
  });

  it('refuses writes once closed', async () => {
    await store.close();
    await expect(ingest([{ event_type: 'Late', user_id: 'writer-user-3' }])).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });
});
