// The hourly request budget of the partner endpoints, counted per Data Import Key (docs/design.md §1 says
// "assume per Data Import Key"). Windows are fixed UTC clock hours, and X-RateLimit-Reset is the end of the
// current window in epoch seconds — the value our client must wait for after a 429.
const HOUR_MS = 3_600_000;

export interface RateLimitSnapshot {
  readonly limit: number;
  readonly remaining: number;
  /** UTC epoch seconds at which the current window ends. */
  readonly reset: number;
  /** False when this request went over the budget. */
  readonly allowed: boolean;
}

export class HourlyBudget {
  private readonly used = new Map<string, { window: number; count: number }>();

  constructor(
    private perHour: number,
    private readonly now: () => number,
    /** Window length; an hour as Braze's partner endpoints count. Tests of pacing use a second or so. */
    private readonly windowMs: number = HOUR_MS,
  ) {
    if (!(windowMs >= 1)) throw new RangeError('windowMs must be ≥ 1');
    assertBudget(perHour);
  }

  get requestsPerHour(): number {
    return this.perHour;
  }

  /** Changes the budget and starts every key afresh, so a test sees the new budget whole. */
  setBudget(perHour: number): void {
    assertBudget(perHour);
    this.perHour = perHour;
    this.used.clear();
  }

  reset(): void {
    this.used.clear();
  }

  /** Counts one request for `key` (even one refused: Braze counts what it receives). */
  take(key: string): RateLimitSnapshot {
    const window = this.window();
    const entry = this.used.get(key);
    const count = entry && entry.window === window ? entry.count + 1 : 1;
    this.used.set(key, { window, count });
    return this.snapshot(window, count, count <= this.perHour);
  }

  /** The current standing of `key` without counting (for responses that are not charged). */
  peek(key?: string): RateLimitSnapshot {
    const window = this.window();
    const entry = key === undefined ? undefined : this.used.get(key);
    return this.snapshot(window, entry && entry.window === window ? entry.count : 0, true);
  }

  private window(): number {
    return Math.floor(this.now() / this.windowMs);
  }

  private snapshot(window: number, count: number, allowed: boolean): RateLimitSnapshot {
    return {
      limit: this.perHour,
      remaining: Math.max(0, this.perHour - count),
      reset: ((window + 1) * this.windowMs) / 1000,
      allowed,
    };
  }
}

export function rateLimitHeaders(snapshot: RateLimitSnapshot): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(snapshot.limit),
    'X-RateLimit-Remaining': String(snapshot.remaining),
    'X-RateLimit-Reset': String(snapshot.reset),
  };
}

function assertBudget(perHour: number): void {
  if (!Number.isSafeInteger(perHour) || perHour < 1) {
    throw new RangeError(`requestsPerHour must be a positive integer, got ${String(perHour)}`);
  }
}
