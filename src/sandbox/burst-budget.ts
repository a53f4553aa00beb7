// The /users/track burst limit (docs/sandbox.md): a fixed window of `windowMs` (default 3 s) allowing
// `requests` per REST API key (default 3,000). X-RateLimit-Reset is sent in the "seconds remaining" form
// Braze also documents, and a 429 carries X-Ratelimit-Retry-After, so clients must read both reset forms.
export interface BurstSnapshot {
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window ends (rounded up). */
  readonly resetInSeconds: number;
  readonly allowed: boolean;
}

export class BurstBudget {
  private readonly used = new Map<string, { window: number; count: number }>();

  constructor(
    private limit: number,
    private windowMs: number,
    private readonly now: () => number,
  ) {
    assertBurst(limit, windowMs);
  }

  get settings(): { requests: number; windowMs: number } {
    return { requests: this.limit, windowMs: this.windowMs };
  }

  set(requests: number, windowMs: number): void {
    assertBurst(requests, windowMs);
    this.limit = requests;
    this.windowMs = windowMs;
    this.used.clear();
  }

  take(key: string): BurstSnapshot {
    const window = Math.floor(this.now() / this.windowMs);
    const entry = this.used.get(key);
    const count = entry && entry.window === window ? entry.count + 1 : 1;
    this.used.set(key, { window, count });
    return this.snapshot(window, count, count <= this.limit);
  }

  peek(key?: string): BurstSnapshot {
    const window = Math.floor(this.now() / this.windowMs);
    const entry = key === undefined ? undefined : this.used.get(key);
    return this.snapshot(window, entry && entry.window === window ? entry.count : 0, true);
  }

  private snapshot(window: number, count: number, allowed: boolean): BurstSnapshot {
    const endsAt = (window + 1) * this.windowMs;
    return {
      limit: this.limit,
      remaining: Math.max(0, this.limit - count),
      resetInSeconds: Math.max(1, Math.ceil((endsAt - this.now()) / 1000)),
      allowed,
    };
  }
}

export function burstHeaders(s: BurstSnapshot): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(s.limit),
    'X-RateLimit-Remaining': String(s.remaining),
    'X-RateLimit-Reset': String(s.resetInSeconds),
    ...(s.allowed ? {} : { 'X-Ratelimit-Retry-After': String(s.resetInSeconds) }),
  };
}

function assertBurst(requests: number, windowMs: number): void {
  if (!Number.isSafeInteger(requests) || requests < 1 || !Number.isSafeInteger(windowMs) || windowMs < 1)
    throw new RangeError('the burst budget needs whole numbers requests ≥ 1 and windowMs ≥ 1');
}
