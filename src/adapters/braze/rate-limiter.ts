// The in-process implementation of the RequestLimiter port (src/ports/limiter.ts). Each destination definition
// declares its budget per key (docs/design.md: 250,000 requests per hour per Data Import Key for cohort import,
// a 3,000-requests-per-3-seconds burst limit per REST API key for /users/track; Braze "Rate limits",
// https://www.braze.com/docs/api/api_limits) and Braze answers with X-RateLimit-* headers that this limiter
// adapts to. A store-backed limiter shared by every worker can replace it behind the same port.
import type { RateLimitObservation, RequestBudget, RequestLimiter } from '../../ports/limiter.ts';
import { keyFingerprint } from './secrets.ts';
import { abortableSleep, type Sleep } from './sleep.ts';

export type { RateLimitObservation } from '../../ports/limiter.ts';
/** The port's name as the Braze adapter has always called it. */
export type RateLimiter = RequestLimiter;

export interface InMemoryRateLimiterOptions {
  /** Requests that may go back to back before pacing starts. */
  readonly burst?: number;
  /**
   * When X-RateLimit-Remaining falls to this many, stop until the reset. Leaves room for requests already in
   * flight (docs/design.md §5: a few per target, default 4) so they do not turn into 429s.
   */
  readonly reserve?: number;
  /** Pause after a 429 that came without any reset information. */
  readonly pauseWithoutResetMs?: number;
  readonly now?: () => number;
  readonly sleep?: Sleep;
  readonly logger?: { warn(obj: object, msg: string): void };
}

interface KeyState {
  /** GCRA "theoretical arrival time": when the bucket would be empty again at the current pace. */
  tat: number;
  /** No request for this key before this time (429, or Remaining at the reserve). */
  blockedUntil: number;
  /** Slower pace derived from Remaining/Reset, valid until `paceUntil`. */
  paceIntervalMs: number;
  paceUntil: number;
}

/**
 * GCRA (a token bucket expressed as one timestamp): spreads the hourly budget evenly, allows `burst` requests
 * at once, slows to "remaining requests over the time left" when Braze reports a shrinking window, and blocks
 * a key until Braze's reset after a 429 or when Remaining reaches the reserve.
 */
export class InMemoryRateLimiter implements RequestLimiter {
  private readonly burst: number;
  private readonly reserve: number;
  private readonly pauseWithoutResetMs: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly logger: { warn(obj: object, msg: string): void } | undefined;
  // Keyed by fingerprint, so raw Data Import Keys do not live on in a long-lived map.
  private readonly keys = new Map<string, KeyState>();

  constructor(options: InMemoryRateLimiterOptions = {}) {
    const burst = options.burst ?? 10;
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError('burst must be an integer ≥ 1');
    this.burst = burst;
    this.reserve = options.reserve ?? 5;
    this.pauseWithoutResetMs = options.pauseWithoutResetMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;
    this.logger = options.logger;
  }

  async acquire(key: string, budget: RequestBudget, signal?: AbortSignal): Promise<void> {
    if (!(budget.requests > 0) || !(budget.perMs > 0)) throw new RangeError('a request budget must be > 0');
    const intervalMs = budget.perMs / budget.requests;
    const toleranceMs = intervalMs * (this.burst - 1);
    const state = this.state(keyFingerprint(key));
    // Re-evaluated after every wait: an observe() during the wait may have blocked or slowed the key.
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      if (now < state.blockedUntil) {
        await this.sleep(state.blockedUntil - now, signal);
        continue;
      }
      const interval = now < state.paceUntil ? Math.max(intervalMs, state.paceIntervalMs) : intervalMs;
      const tat = Math.max(state.tat, now);
      const waitMs = tat - toleranceMs - now;
      if (waitMs <= 0) {
        state.tat = tat + interval;
        return;
      }
      await this.sleep(waitMs, signal);
    }
  }

  observe(key: string, headers: RateLimitObservation, status: number): void {
    const fingerprint = keyFingerprint(key);
    const state = this.state(fingerprint);
    const now = this.now();
    const resetAt = headers.resetEpochSeconds === undefined ? undefined : headers.resetEpochSeconds * 1000;
    if (status === 429) {
      this.block(
        fingerprint,
        state,
        resetAt !== undefined && resetAt > now ? resetAt : now + this.pauseWithoutResetMs,
        'Braze answered 429',
      );
      return;
    }
    if (headers.remaining === undefined || resetAt === undefined || resetAt <= now) return;
    if (headers.remaining <= this.reserve) {
      this.block(fingerprint, state, resetAt, 'Braze rate-limit budget nearly used up');
      return;
    }
    // Spread what is left over the rest of Braze's window. Each process sees the same Remaining, so several
    // processes together may go faster than this; the reserve block above is what keeps them all under.
    state.paceIntervalMs = (resetAt - now) / (headers.remaining - this.reserve);
    state.paceUntil = resetAt;
  }

  private block(fingerprint: string, state: KeyState, until: number, reason: string): void {
    if (until <= state.blockedUntil) return;
    state.blockedUntil = until;
    this.logger?.warn(
      { key: fingerprint, pausedUntil: new Date(until).toISOString() },
      `${reason}: pausing requests for this key until the reset`,
    );
  }

  private state(fingerprint: string): KeyState {
    let state = this.keys.get(fingerprint);
    if (!state) {
      state = { tat: 0, blockedUntil: 0, paceIntervalMs: 0, paceUntil: 0 };
      this.keys.set(fingerprint, state);
    }
    return state;
  }
}
