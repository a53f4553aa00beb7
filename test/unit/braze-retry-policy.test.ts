import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  MAX_SERVER_WAIT_MS,
  type RetryPolicy,
  retryDelayMs,
  validateRetryPolicy,
} from '../../src/adapters/braze/retry-policy.ts';

const exact: RetryPolicy = { ...DEFAULT_RETRY_POLICY, jitter: 0 };
const never = (): number => 0;

describe('backoffDelayMs', () => {
  it('doubles from the base delay after each failed attempt', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(exact, n, never))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000,
    ]);
  });

  it('caps each wait at maxDelayMs', () => {
    expect(backoffDelayMs(exact, 8, never)).toBe(120_000);
    expect(backoffDelayMs(exact, 30, never)).toBe(120_000);
  });

  it('jitter only shortens a wait, by at most the jitter fraction', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, jitter: 0.5 };
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(4_000);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(3_000);
    expect(backoffDelayMs(policy, 3, () => 0.999_999)).toBe(2_000);
    expect(backoffDelayMs(policy, 20, () => 0.999_999)).toBe(60_000);
  });

  it('defaults follow docs/design.md §5: 8 attempts, 1 s doubling, 2 min cap', () => {
    expect(DEFAULT_RETRY_POLICY).toMatchObject({ maxAttempts: 8, baseDelayMs: 1_000, maxDelayMs: 120_000 });
  });
});

describe('retryDelayMs', () => {
  it('uses the back-off when the server gave no wait', () => {
    expect(retryDelayMs(exact, 2, undefined, never)).toBe(2_000);
  });

  it('never comes back earlier than the server asked', () => {
    expect(retryDelayMs(exact, 1, 30_000, never)).toBe(30_000);
  });

  it('keeps the longer back-off when the server wait is shorter', () => {
    expect(retryDelayMs(exact, 5, 2_000, never)).toBe(16_000);
  });

  it('adds up to jitter·base on top of a server wait, never below it', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, jitter: 0.5 };
    expect(retryDelayMs(policy, 1, 30_000, () => 0.5)).toBe(30_250);
  });

  it('ignores server waits beyond one rate-limit window (bogus headers)', () => {
    expect(retryDelayMs(exact, 1, 10 * MAX_SERVER_WAIT_MS, never)).toBe(MAX_SERVER_WAIT_MS);
  });

  it('treats a reset already in the past as no wait', () => {
    expect(retryDelayMs(exact, 1, -5_000, never)).toBe(1_000);
  });
});

describe('validateRetryPolicy', () => {
  it('accepts the defaults', () => {
    expect(validateRetryPolicy(DEFAULT_RETRY_POLICY)).toBe(DEFAULT_RETRY_POLICY);
  });

  it('lists every problem at once', () => {
    expect(() => validateRetryPolicy({ maxAttempts: 0, baseDelayMs: 10, maxDelayMs: 5, jitter: 2 })).toThrow(
      /maxAttempts.*maxDelayMs.*jitter/,
    );
  });
});
