// Retry policy as data (docs/design.md, "Retry and rate-limit policy as data"): the client asks this module
// how long to wait; it never decides delays inline. Defaults follow docs/design.md §5: 8 attempts, 1 s doubling,
// capped at 2 min per wait, with jitter so workers that failed together do not retry together.

export interface RetryPolicy {
  /** Total HTTP attempts for one call, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** 0..1: fraction of each back-off that is randomised away (0 = exact doubling). */
  readonly jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1_000,
  maxDelayMs: 120_000,
  jitter: 0.2,
};

/**
 * The longest server-requested wait we honour. The partner endpoints' budget is hourly (docs/design.md §1; Braze
 * "Rate limits" page), so a reset further away than one window is a bogus header, not a reason to stall.
 */
export const MAX_SERVER_WAIT_MS = 3_600_000;

export function validateRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1)
    problems.push('maxAttempts must be an integer ≥ 1');
  if (!(policy.baseDelayMs >= 0)) problems.push('baseDelayMs must be ≥ 0');
  if (!(policy.maxDelayMs >= policy.baseDelayMs)) problems.push('maxDelayMs must be ≥ baseDelayMs');
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) problems.push('jitter must be between 0 and 1');
  if (problems.length > 0) throw new RangeError(`invalid Braze retry policy: ${problems.join('; ')}`);
  return policy;
}

/**
 * Exponential back-off after the `failedAttempt`-th attempt (1-based): base·2^(n-1), capped, then reduced by
 * up to `jitter` of itself. Jitter only shortens, so the cap stays a true upper bound.
 */
export function backoffDelayMs(policy: RetryPolicy, failedAttempt: number, random: () => number): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}

/**
 * The wait before the next attempt. A server-requested wait (429 reset / Retry-After) is a floor: we never
 * come back earlier than told, and add a little jitter on top so every worker does not return at the same
 * second; the exponential back-off still applies when it is longer.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  serverWaitMs: number | undefined,
  random: () => number,
): number {
  const backoff = backoffDelayMs(policy, failedAttempt, random);
  if (serverWaitMs === undefined) return backoff;
  const honoured = Math.min(Math.max(0, serverWaitMs), MAX_SERVER_WAIT_MS);
  return Math.max(backoff, honoured + Math.round(policy.jitter * policy.baseDelayMs * random()));
}
