// The request budget shared by every process on PostgreSQL (docs/deploy.md, "One budget per key"): one row per
// budget key holds a GCRA timestamp (a token bucket written as one number), and each request takes its slot
// with one call of rate_limit_take (migration 0041_rate_limits) that locks the row, reads the database's clock,
// and either moves the timestamp on (go) or answers how long to wait before asking again. Three workers on one key thus send at one key's pace,
// not three times it. What Braze answers (429, X-RateLimit-Remaining/-Reset) is written to the same row, so one
// process's 429 pauses them all.
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { RateLimitObservation, RequestBudget, RequestLane, RequestLimiter } from '../../ports/limiter.ts';
import type { Database } from '../store/schema.ts';

/** Which kind of run asks: real-time runs may use the headroom a bulk (full, scheduled) run never takes. */
export type Lane = RequestLane;

export interface StoreLimiterOptions {
  /**
   * When X-RateLimit-Remaining falls to this many, every process stops until the reset: room for the requests
   * already in flight on all workers. Default 8.
   */
  readonly reserve?: number;
  /** Pause after a 429 that came without reset information. Default 1 s. */
  readonly pauseWithoutResetMs?: number;
  /** Wait before asking again when the store could not be reached (the budget is never guessed). Default 250 ms. */
  readonly storeRetryMs?: number;
  readonly now?: () => number;
  readonly logger?: { warn(obj: object, msg: string): void };
}

/**
 * How a budget becomes GCRA parameters. GCRA lets at most `window / interval + burst` requests into any window,
 * so the interval leaves room for the burst: a fixed-window counter like Braze's never sees more than
 * `requests`. Of the burst, `headroom` slots are only for real-time runs: a bulk run may start a request
 * only while the bucket has more than that many free, so a 10M-member first load at full pace still leaves
 * a real-time change its slots at once — while using the whole rate when nothing real-time is waiting.
 */
export function gcraFor(budget: RequestBudget): {
  intervalMs: number;
  burst: number;
  headroom: number;
  toleranceMs: Record<Lane, number>;
} {
  if (!(budget.requests > 0) || !(budget.perMs > 0)) throw new RangeError('a request budget must be > 0');
  const burst = Math.max(2, Math.min(10, Math.floor(budget.requests / 25)));
  const headroom = Math.max(1, Math.floor((burst - 1) / 2));
  const intervalMs = budget.perMs / Math.max(1, budget.requests - burst);
  return {
    intervalMs,
    burst,
    headroom,
    toleranceMs: { realtime: (burst - 1) * intervalMs, bulk: (burst - 1 - headroom) * intervalMs },
  };
}

/** Rows are keyed by a digest: no Data Import Key or REST API key is ever written to the table. */
const rowKey = (key: string) => createHash('sha256').update(key).digest('base64url').slice(0, 32);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class StoreRequestLimiter implements RequestLimiter {
  private readonly reserve: number;
  private readonly pauseWithoutResetMs: number;
  private readonly storeRetryMs: number;
  private readonly now: () => number;
  private readonly logger: StoreLimiterOptions['logger'];
  /** Per row key, the last pace written, so an unchanged Remaining/Reset costs no write. */
  private readonly lastPace = new Map<string, { intervalMs: number; until: number }>();

  constructor(
    // The rate_limits table is reached through raw SQL only, so the store's typed schema need not know it.
    private readonly db: Kysely<Database>,
    options: StoreLimiterOptions = {},
  ) {
    this.reserve = options.reserve ?? 8;
    this.pauseWithoutResetMs = options.pauseWithoutResetMs ?? 1_000;
    this.storeRetryMs = options.storeRetryMs ?? 250;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  async acquire(key: string, budget: RequestBudget, signal?: AbortSignal, lane: Lane = 'bulk'): Promise<void> {
    const gcra = gcraFor(budget);
    const id = rowKey(key);
    for (;;) {
      signal?.throwIfAborted();
      let waitMs: number;
      try {
        const r = await sql<{
          wait: number;
        }>`select rate_limit_take(${id}, ${gcra.intervalMs}, ${gcra.toleranceMs[lane]}) as wait`.execute(this.db);
        waitMs = Number(r.rows[0]!.wait);
      } catch (err) {
        this.logger?.warn({ err }, 'the shared rate limiter could not reach the store; waiting before asking again');
        await sleep(this.storeRetryMs, signal);
        continue;
      }
      if (waitMs <= 0) return; // the slot is ours
      // Not yet, and nothing reserved: ask again when a slot should be free (another process may take it first).
      await sleep(Math.max(1, waitMs), signal);
    }
  }

  observe(key: string, seen: RateLimitObservation, status: number): void {
    const id = rowKey(key);
    const now = this.now();
    const resetAt = seen.resetEpochSeconds === undefined ? undefined : seen.resetEpochSeconds * 1000;
    if (status === 429) {
      const until = resetAt !== undefined && resetAt > now ? resetAt : now + this.pauseWithoutResetMs;
      this.logger?.warn(
        { budgetKey: id, pausedUntil: new Date(until).toISOString() },
        'the destination answered 429: pausing this key on every worker until its reset',
      );
      this.block(id, until);
      return;
    }
    if (seen.remaining === undefined || resetAt === undefined || resetAt <= now) return;
    // A small budget (a test's 25 per second) cannot spare the whole reserve: at most a tenth of its limit.
    const reserve =
      seen.limit !== undefined ? Math.min(this.reserve, Math.max(1, Math.floor(seen.limit / 10))) : this.reserve;
    if (seen.remaining <= reserve) {
      this.block(id, resetAt);
      return;
    }
    // What is left, spread over the rest of the window: Remaining counts every process's requests, so this
    // pace is already the key's pace (unlike an in-process limiter, which would have to divide it).
    const intervalMs = (resetAt - now) / (seen.remaining - reserve);
    const last = this.lastPace.get(id);
    if (last && last.until === resetAt && Math.abs(last.intervalMs - intervalMs) < 0.05 * last.intervalMs) return;
    this.lastPace.set(id, { intervalMs, until: resetAt });
    this.write(
      sql`insert into rate_limits (key, pace_interval_ms, pace_until_ms) values (${id}, ${intervalMs}, ${resetAt})
          on conflict (key) do update set pace_interval_ms = excluded.pace_interval_ms, pace_until_ms = excluded.pace_until_ms`,
    );
  }

  private block(id: string, until: number): void {
    this.write(
      sql`insert into rate_limits (key, blocked_until_ms) values (${id}, ${until})
          on conflict (key) do update set blocked_until_ms = greatest(rate_limits.blocked_until_ms, excluded.blocked_until_ms)`,
    );
  }

  private write(statement: { execute(db: Kysely<Database>): Promise<unknown> }): void {
    statement
      .execute(this.db)
      .catch((err: unknown) => this.logger?.warn({ err }, 'could not record a rate-limit answer in the store'));
  }
}
