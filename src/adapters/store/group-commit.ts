// Ingestion requests sharing one transaction where the engine has a single writer (SQLite): requests that
// arrive while a transaction runs wait for it anyway, so the next transaction takes all of them — one
// BEGIN/COMMIT and one write of each touched page for the group instead of one per request (about a quarter
// of the store's CPU per event at four concurrent senders, docs/benchmarks.md "Ingestion").
//
// No savepoint per request: SQLite copies every page a savepoint's statements change into a sub-journal
// first, which cost more than the group saved. Instead, when any request of a group fails, the whole
// transaction is rolled back and each request of the group runs again alone, in a transaction of its own: a
// bad request fails by itself and never costs another its events. The work must therefore be safe to run
// twice (it is: it only reads and writes the store, and builds its result afresh each time).
import type { Kysely, Transaction } from 'kysely';
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
        if (group.length > 1 && (await this.together(group))) continue;
        for (const item of group) await this.alone(item);
      }
    } finally {
      this.running = false;
    }
  }

  /** The group in one transaction; false (all rolled back, nobody told) if any part of it failed. */
  private async together(group: readonly Waiting[]): Promise<boolean> {
    let values: unknown[] = [];
    try {
      await this.db.transaction().execute(async (tx) => {
        values = [];
        for (const item of group) values.push(await item.work(tx));
      });
    } catch {
      return false;
    }
    group.forEach((item, i) => item.resolve(values[i]));
    return true;
  }

  private async alone(item: Waiting): Promise<void> {
    try {
      item.resolve(await this.db.transaction().execute(item.work));
    } catch (error) {
      item.reject(asUnavailable(error));
    }
  }
}
