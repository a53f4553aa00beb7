// Reading Braze's rate-limit answer. Every Braze REST response may carry X-RateLimit-Limit / -Remaining /
// -Reset, the reset being a UTC epoch in seconds (docs/design.md §1 "Responses"; Braze docs "Rate limits",
// https://www.braze.com/docs/api/api_limits). A 429 may also carry the standard Retry-After (seconds or an
// HTTP date, RFC 9110 §10.2.3). Header names are case-insensitive (lower-case over HTTP/2); `Headers.get`
// already matches case-insensitively, which is why this module takes a `get` function, not a plain object.

export interface HeaderSource {
  get(name: string): string | null;
}

import type { RateLimitObservation } from '../../ports/limiter.ts';

export type { RateLimitObservation } from '../../ports/limiter.ts';

/**
 * Braze documents the reset as epoch seconds. A value this small cannot be an epoch of this century, so it is
 * read as "seconds from now" — the other common convention — instead of as a time in 1970 (which would mean
 * "no wait" and hammer a limited key).
 */
const SMALLEST_PLAUSIBLE_EPOCH_SECONDS = 1_000_000_000;

function nonNegativeNumber(raw: string | null): number | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export function readRateLimitHeaders(headers: HeaderSource, nowMs: number): RateLimitObservation {
  const limit = nonNegativeNumber(headers.get('x-ratelimit-limit'));
  const remaining = nonNegativeNumber(headers.get('x-ratelimit-remaining'));
  const reset = nonNegativeNumber(headers.get('x-ratelimit-reset'));
  const resetEpochSeconds =
    reset === undefined ? undefined : reset < SMALLEST_PLAUSIBLE_EPOCH_SECONDS ? nowMs / 1000 + reset : reset;
  return {
    ...(limit !== undefined && { limit }),
    ...(remaining !== undefined && { remaining }),
    ...(resetEpochSeconds !== undefined && { resetEpochSeconds }),
  };
}

/** Milliseconds a `Retry-After` header asks for, or undefined when absent or unreadable. */
export function retryAfterMs(headers: HeaderSource, nowMs: number): number | undefined {
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * How long a 429 tells us to wait: `Retry-After` when present, else until `X-RateLimit-Reset`
 * (docs/design.md: "wait until X-RateLimit-Reset, or Retry-After if present").
 */
export function rateLimitedWaitMs(headers: HeaderSource, nowMs: number): number | undefined {
  const retryAfter = retryAfterMs(headers, nowMs);
  if (retryAfter !== undefined) return retryAfter;
  // /users/track may answer a 429 with X-Ratelimit-Retry-After (seconds) instead (docs/design.md).
  const brazeRetryAfter = nonNegativeNumber(headers.get('x-ratelimit-retry-after'));
  if (brazeRetryAfter !== undefined) return Math.round(brazeRetryAfter * 1000);
  const { resetEpochSeconds } = readRateLimitHeaders(headers, nowMs);
  return resetEpochSeconds === undefined ? undefined : Math.max(0, Math.ceil(resetEpochSeconds * 1000 - nowMs));
}
