// The job queue on PostgreSQL: pg-boss 10 carries "work on Braze cohort X" between any number of processes on
// any number of machines. It only dispatches; one active run per sync, coalescing and crash recovery live in
// the store's lease rows (docs/deploy.md, "Run coordination"). pg-boss only polls, so a dispatch also sends a
// NOTIFY after its job committed, and idle workers listening for it fetch at once; the poll stays as the
// safety net for a lost notification or a dropped listening connection.
import PgBoss from 'pg-boss';
import type { JobQueue } from '../../ports/queue.ts';
import { RUN_QUEUE } from './pg-boss-schema.ts';
import { startWakeListener, WAKE_CHANNEL, type WakeListener } from './wake-listener.ts';

export interface PgBossQueueOptions {
  readonly connectionString: string;
  /** pg-boss's schema (pgBossSchemaFor), created by the store's migrations. */
  readonly schema: string;
  /** Braze cohorts this process works on at once. */
  readonly concurrency: number;
  /** The safety-net poll; pg-boss allows 0.5 s at least. Default 2 s. */
  readonly pollingIntervalSeconds?: number;
  /** Connections of pg-boss's own pool. Default 4. */
  readonly poolSize?: number;
  readonly logger: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** LISTEN/NOTIFY wake-up (default on); off, pickup waits for the poll. */
  readonly wakeup?: boolean;
  /** Whether this process runs pg-boss maintenance (expiry, archiving); any number of processes may. */
  readonly supervise?: boolean;
}

interface RunJob {
  readonly brazeCohortId: string;
}

export class PgBossQueue implements JobQueue {
  private readonly boss: PgBoss;
  private readonly workerIds: string[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private listener: WakeListener | null = null;
  private started = false;
  private stopped = false;

  private constructor(
    private readonly opts: PgBossQueueOptions,
    private readonly owner: string,
  ) {
    this.boss = new PgBoss({
      connectionString: opts.connectionString,
      schema: opts.schema,
      max: opts.poolSize ?? 4,
      application_name: 'cohort-sync pg-boss',
      migrate: false, // the store's migrations created the schema (0040_pgboss)
      schedule: false, // schedules are our due-scanner's (app/scheduler.ts), not pg-boss cron
      supervise: opts.supervise ?? true,
    });
    // pg-boss reports connection and maintenance trouble as 'error' events; unheard, they would end the process.
    this.boss.on('error', (err) => opts.logger.error({ err }, 'pg-boss reported an error'));
  }

  /** Connects and checks that the migrated pg-boss schema is the version this pg-boss expects. */
  static async open(opts: PgBossQueueOptions, owner: string): Promise<PgBossQueue> {
    const queue = new PgBossQueue(opts, owner);
    await queue.boss.start();
    return queue;
  }

  async dispatch(brazeCohortId: string): Promise<void> {
    if (this.stopped) return;
    const data: RunJob = { brazeCohortId };
    // `short` policy: null when a job of this key is already waiting — the dispatch folds into that one.
    const id = await this.boss.send(RUN_QUEUE, data, { singletonKey: brazeCohortId });
    if (id !== null && this.opts.wakeup !== false) await this.wake();
  }

  async start(handler: (brazeCohortId: string) => Promise<void>): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    const pollingIntervalSeconds = this.opts.pollingIntervalSeconds ?? 2;
    for (let i = 0; i < this.opts.concurrency; i++) {
      const id = await this.boss.work<RunJob>(RUN_QUEUE, { batchSize: 1, pollingIntervalSeconds }, async (jobs) => {
        const job = jobs[0];
        if (!job) return null;
        const work = handler(job.data.brazeCohortId);
        this.running.add(work);
        try {
          await work;
        } finally {
          this.running.delete(work);
        }
        // Kept by pg-boss as the job's output: which process carried it (operators, and the scale-out test).
        return { worker: this.owner };
      });
      this.workerIds.push(id);
    }
    if (this.opts.wakeup === false) return;
    this.listener = await startWakeListener({
      connectionString: this.opts.connectionString,
      payload: this.opts.schema,
      onWake: () => {
        for (const id of this.workerIds) this.boss.notifyWorker(id);
      },
      logger: this.opts.logger,
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.listener?.close();
    this.listener = null;
    if (this.started) await this.boss.offWork(RUN_QUEUE);
    await Promise.allSettled([...this.running]);
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }

  async ping(): Promise<void> {
    if (this.stopped) throw new Error('the job queue is stopped');
    await this.boss.getDb().executeSql(`select version from ${this.opts.schema}.version limit 1`, []);
  }

  /** NOTIFY after the job's own statement committed, so a woken worker finds it. */
  private async wake(): Promise<void> {
    try {
      await this.boss.getDb().executeSql('select pg_notify($1, $2)', [WAKE_CHANNEL, this.opts.schema]);
    } catch (err) {
      // The job is stored; the poll picks it up. A failed wake-up costs latency, not work.
      this.opts.logger.warn({ err }, 'could not notify workers of a new job; they will find it on their next poll');
    }
  }
}
