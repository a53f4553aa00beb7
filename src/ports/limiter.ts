// The request budget per key, behind a port so a limiter shared by every worker (a store row) can replace the
// in-process one without touching the destination code that calls it.

/** At most `requests` per `perMs` milliseconds, per key (a destination definition's default; configurable). */
export interface RequestBudget {
  readonly requests: number;
  readonly perMs: number;
}

/** What the destination said about the budget after a response (rate-limit headers). */
export interface RateLimitObservation {
  readonly limit?: number;
  readonly remaining?: number;
  readonly resetEpochSeconds?: number;
}

/**
 * Who asks: requests of real-time runs may use headroom that bulk (full, scheduled) runs leave free, so a large
 * first load never starves real-time changes on the same key (docs/deploy.md, "One budget per key").
 */
export type RequestLane = 'realtime' | 'bulk';

export interface RequestLimiter {
  /**
   * Resolves when one request for `key` may be sent within `budget`; rejects if `signal` aborts meanwhile.
   * `lane` defaults to 'bulk'; limiters without headroom treat both lanes alike.
   */
  acquire(key: string, budget: RequestBudget, signal?: AbortSignal, lane?: RequestLane): Promise<void>;
  /** Feeds back what the destination said about the budget, after every HTTP response. */
  observe(key: string, seen: RateLimitObservation, status: number): void;
}
