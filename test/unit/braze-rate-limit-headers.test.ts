import { describe, expect, it } from 'vitest';
import { rateLimitedWaitMs, readRateLimitHeaders, retryAfterMs } from '../../src/adapters/braze/rate-limit-headers.ts';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

describe('readRateLimitHeaders', () => {
  it('reads Braze headers whatever their case', () => {
    const headers = new Headers({
      'X-RATELIMIT-LIMIT': '250000',
      'x-ratelimit-remaining': '42',
      'X-RateLimit-Reset': String(NOW / 1000 + 60),
    });
    expect(readRateLimitHeaders(headers, NOW)).toEqual({
      limit: 250_000,
      remaining: 42,
      resetEpochSeconds: NOW / 1000 + 60,
    });
  });

  it('leaves out absent or unreadable values', () => {
    expect(
      readRateLimitHeaders(new Headers({ 'x-ratelimit-remaining': 'lots', 'x-ratelimit-limit': '-1' }), NOW),
    ).toEqual({});
  });

  it('reads a reset too small to be an epoch as seconds from now', () => {
    expect(readRateLimitHeaders(new Headers({ 'x-ratelimit-reset': '30' }), NOW)).toEqual({
      resetEpochSeconds: NOW / 1000 + 30,
    });
  });
});

describe('retryAfterMs', () => {
  it('reads delta seconds', () => {
    expect(retryAfterMs(new Headers({ 'Retry-After': '7' }), NOW)).toBe(7_000);
  });

  it('reads an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(NOW + 12_000).toUTCString() }), NOW)).toBe(12_000);
  });

  it('treats a date in the past as no wait, and garbage as absent', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(NOW - 60_000).toUTCString() }), NOW)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), NOW)).toBeUndefined();
    expect(retryAfterMs(new Headers(), NOW)).toBeUndefined();
  });
});

describe('rateLimitedWaitMs', () => {
  it('prefers Retry-After over the reset (docs/design.md §1)', () => {
    const headers = new Headers({ 'retry-after': '5', 'x-ratelimit-reset': String(NOW / 1000 + 600) });
    expect(rateLimitedWaitMs(headers, NOW)).toBe(5_000);
  });

  it('falls back to the time until X-RateLimit-Reset', () => {
    expect(rateLimitedWaitMs(new Headers({ 'x-ratelimit-reset': String(NOW / 1000 + 90) }), NOW)).toBe(90_000);
  });

  it('is undefined without either header', () => {
    expect(rateLimitedWaitMs(new Headers({ 'x-ratelimit-remaining': '0' }), NOW)).toBeUndefined();
  });
});
