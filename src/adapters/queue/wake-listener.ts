// One dedicated connection LISTENing for "a job was dispatched" (PostgreSQL LISTEN/NOTIFY,
// https://www.postgresql.org/docs/15/sql-notify.html). Notifications are delivered only after the sending
// transaction commits, and only to sessions listening at that moment — so this is a latency optimisation: the
// poll of pg-boss finds whatever a lost notification or a reconnect gap missed.
import pg from 'pg';

export const WAKE_CHANNEL = 'cohort_sync_jobs';

export interface WakeListener {
  close(): Promise<void>;
}

export interface WakeListenerOptions {
  readonly connectionString: string;
  /** Only notifications with this payload count (the pg-boss schema: stores sharing a database stay apart). */
  readonly payload: string;
  readonly onWake: () => void;
  readonly logger: { warn(obj: object, msg: string): void };
  /** Wait before reconnecting after the connection dropped; doubles up to 30 s. Default 1 s. */
  readonly reconnectMs?: number;
}

export async function startWakeListener(opts: WakeListenerOptions): Promise<WakeListener> {
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let delay = opts.reconnectMs ?? 1_000;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: 'cohort-sync wake-up' });
    c.on('notification', (n) => {
      if (n.channel === WAKE_CHANNEL && n.payload === opts.payload) opts.onWake();
    });
    c.on('error', (err) => {
      opts.logger.warn({ err }, 'the wake-up connection failed; polling until it is back');
      void c.end().catch(() => undefined);
      if (client === c) client = null;
      schedule();
    });
    await c.connect();
    await c.query(`listen ${WAKE_CHANNEL}`);
    if (closed) {
      await c.end();
      return;
    }
    client = c;
    delay = opts.reconnectMs ?? 1_000;
    // Whatever was dispatched while we were not listening is found now rather than at the next poll.
    opts.onWake();
  };

  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      connect().catch((err: unknown) => {
        opts.logger.warn({ err }, 'could not reconnect the wake-up connection; polling meanwhile');
        delay = Math.min(delay * 2, 30_000);
        schedule();
      });
    }, delay);
    timer.unref();
  };

  // Not fatal: the poll carries the jobs until the wake-up connection is there.
  await connect().catch((err: unknown) => {
    opts.logger.warn({ err }, 'could not open the wake-up connection; polling meanwhile');
    schedule();
  });
  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
