// The body of the ingestion writer's thread (ingest-writer.ts): its own connection to the SQLite file, the
// same event store and behavioral evaluation as the main thread would run, one reply per call.
import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { KyselyBehavioralRepo } from './behavioral-repo.ts';
import { openStoreDb } from './db.ts';
import { KyselyEventStore } from './event-repo.ts';
import type { WriterCall, WriterData, WriterReply } from './ingest-writer.ts';
import { isUnavailable } from './unavailable.ts';

const port = parentPort;
if (!port) throw new Error('ingest-writer-thread.ts runs as a worker thread');
const data = workerData as WriterData;
// No checkpoint thread of its own: the main connection's does that for the file.
const raw = openStoreDb(
  {
    kind: 'sqlite',
    file: data.file,
    ...(data.busyTimeoutMs !== undefined ? { busyTimeoutMs: data.busyTimeoutMs } : {}),
  },
  { checkpoints: false },
);
const store = new KyselyEventStore(raw.db, raw.dialect);
const behavioral = new KyselyBehavioralRepo(raw.db, raw.dialect);

async function run(call: WriterCall): Promise<unknown> {
  switch (call.op) {
    case 'ingest':
      return store.ingest(...call.args);
    case 'identify':
      return store.identify(...call.args);
    case 'behavioral':
      return (behavioral[call.method] as (...args: unknown[]) => Promise<unknown>).apply(behavioral, call.args);
    case 'pragma':
      return (await sql.raw(`pragma ${call.args[0]}`).execute(raw.db)).rows;
  }
}

port.on('message', (call: WriterCall | 'stop') => {
  if (call === 'stop') {
    void raw.close().then(() => port.close());
    return;
  }
  run(call).then(
    (value) => port.postMessage({ id: call.id, ok: true, value } satisfies WriterReply),
    (error: unknown) => {
      const e = error as { message?: unknown; code?: unknown };
      port.postMessage({
        id: call.id,
        ok: false,
        error: {
          message: String(e?.message ?? error),
          ...(typeof e?.code === 'string' ? { code: e.code } : {}),
          unavailable: isUnavailable(error),
        },
      } satisfies WriterReply);
    },
  );
});
port.postMessage('ready');
