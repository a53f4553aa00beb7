// Ingestion requests sharing one transaction where the engine has a single writer (SQLite): requests that
// arrive while a transaction runs wait for it anyway, so the next transaction takes all of them — one
// BEGIN/COMMIT and one write of each touched page for the group instead of one per request (about a quarter
// of the store's CPU per event at four concurrent senders, docs/benchmarks.md "Ingestion"). Each request
// runs in a savepoint of its own, so one that fails is rolled back alone and the others commit; a failure of
// the transaction itself (BEGIN or COMMIT: the store unavailable) fails the whole group.
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import { asUnavailable } from './unavailable.ts';

type Work<T> = (tx: Transaction<Database>) => Promise<T>;

interface Waiting {
  readonly work: Work<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Requests one transaction takes at most (a bound on the memory and time a group holds). */
const MAX_GROUP = 16;

export class GroupCommit {
  private readonly queue: Waiting[] = [];
  private running = false;

  constructor(private readonly db: Kysely<Database>) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        // Let requests whose bodies are already read reach the queue before the group is taken.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const group = this.queue.splice(0, MAX_GROUP);
        let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
        try {
          await this.db.transaction().execute(async (tx) => {
            outcomes = [];
            for (const item of group) {
              await sql`savepoint ingest_request`.execute(tx);
              try {
                const value = await item.work(tx);
                await sql`release ingest_request`.execute(tx);
                outcomes.push({ ok: true, value });
              } catch (error) {
                await sql`rollback to ingest_request`.execute(tx);
                await sql`release ingest_request`.execute(tx);
                outcomes.push({ ok: false, error });
              }
            }
          });
        } catch (error) {
          for (const item of group) item.reject(asUnavailable(error));
          continue;
        }
        group.forEach((item, i) => {
          const o = outcomes[i]!;
          if (o.ok) item.resolve(o.value);
          else item.reject(asUnavailable(o.error));
        });
      }
    } finally {
      this.running = false;
    }
  }
}
