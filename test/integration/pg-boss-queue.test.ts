// The pg-boss job queue against the real PostgreSQL: created by migrate, dispatch in one process reaching a
// worker of another, one queued job per Braze cohort (`short`), and wake-up by NOTIFY well before the poll.
import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PgBossQueue } from '../../src/adapters/queue/pg-boss-queue.ts';
import { pgBossSchemaFor, RUN_QUEUE } from '../../src/adapters/queue/pg-boss-schema.ts';
import { openStore } from '../../src/adapters/store/index.ts';
import { ENGINES } from '../support/engines.ts';
import { waitUntil } from '../support/waiting.ts';

const postgres = ENGINES.find((e) => e.name === 'postgres');
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe.skipIf(!postgres)('pg-boss job queue on PostgreSQL', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function fresh() {
    const f = await postgres!.fresh();
    const store = await openStore(f.location);
    cleanup.push(async () => {
      await store.close();
      await f.drop();
    });
    const location = f.location as { kind: 'postgres'; url: string; schema: string };
    const schema = pgBossSchemaFor(await store.currentSchema());
    // What a worker process started with DATABASE_URL does: the schema travels in the URL's search_path.
    const url = `${location.url}${location.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${location.schema}`)}`;
    const open = async (owner: string, pollingIntervalSeconds = 30) => {
      const q = await PgBossQueue.open(
        { connectionString: url, schema, concurrency: 2, pollingIntervalSeconds, logger },
        owner,
      );
      cleanup.push(() => q.stop());
      return q;
    };
    const jobs = async () => {
      const c = new pg.Client({ connectionString: location.url });
      await c.connect();
      try {
        const r = await c.query<{ key: string; state: string; output: { worker?: string } | null }>(
          `select singleton_key as key, state::text as state, output from ${schema}.job where name = $1 order by created_on`,
          [RUN_QUEUE],
        );
        return r.rows;
      } finally {
        await c.end();
      }
    };
    return { schema, open, jobs, store };
  }

  it('is created by migrate in a schema named after the store, with the short run queue', async () => {
    const { schema, jobs, store } = await fresh();
    expect(schema).toMatch(/^t_[0-9a-f]+_pgboss$/);
    expect(await jobs()).toEqual([]);
    await store.ping();
  });

  it('keeps one queued job per Braze cohort, and a worker in another process runs it, woken at once by NOTIFY', async () => {
    const { open, jobs } = await fresh();
    const api = await open('api');
    await api.dispatch('bc_1');
    await api.dispatch('bc_1'); // folds into the waiting job (short policy)
    await api.dispatch('bc_2');
    expect((await jobs()).map((j) => [j.key, j.state])).toEqual([
      ['bc_1', 'created'],
      ['bc_2', 'created'],
    ]);

    // A 30 s poll: only the wake-up (on LISTEN, and per dispatch) can explain a pickup within seconds.
    const worker = await open('worker-a', 30);
    const seen: string[] = [];
    await worker.start(async (id) => {
      seen.push(id);
    });
    await waitUntil('both jobs ran', () => seen.length === 2, 5_000);
    expect(seen.sort()).toEqual(['bc_1', 'bc_2']);

    await api.dispatch('bc_3');
    await waitUntil('a new dispatch woke the idle worker', () => seen.includes('bc_3'), 5_000);
    await waitUntil('jobs completed', async () => (await jobs()).every((j) => j.state === 'completed'), 5_000);
    expect((await jobs()).map((j) => j.output?.worker)).toEqual(['worker-a', 'worker-a', 'worker-a']);
    await api.ping();
    await worker.stop();
    await expect(worker.ping()).rejects.toThrow();
  });
});
