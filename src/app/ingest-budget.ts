// The per-project events/s budget of ingestion: a token bucket per project that refills at `perSecond`
// and holds one second's worth, so short bursts pass and a sustained excess is refused with 429
// (Amplitude's SDKs wait and retry the throttled events). A request larger than the whole bucket passes
// when the bucket is full and leaves it in debt, so a small budget never refuses a request forever.
export class EventBudget {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  /** `perSecond` 0 disables the budget. */
  constructor(readonly perSecond: number) {}

  /** Takes `n` events from the project's budget; false (nothing taken) when they do not fit now. */
  take(projectId: string, n: number, nowMs: number): boolean {
    if (this.perSecond <= 0 || n === 0) return true;
    const capacity = this.perSecond;
    const bucket = this.buckets.get(projectId) ?? { tokens: capacity, atMs: nowMs };
    const elapsed = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(capacity, bucket.tokens + (elapsed * this.perSecond) / 1000);
    bucket.atMs = nowMs;
    this.buckets.set(projectId, bucket);
    if (bucket.tokens < Math.min(n, capacity)) return false;
    bucket.tokens -= n;
    return true;
  }
}
