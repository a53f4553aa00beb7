import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter } from '../../src/adapters/braze/rate-limiter.ts';
import { keyFingerprint } from '../../src/adapters/braze/secrets.ts';

const START = Date.UTC(2030, 0, 1, 12, 0, 0);
const KEY = 'dik-0123456789-abcdef';
const PER_HOUR = (requests: number) => ({ requests, perMs: 3_600_000 });
const DEFAULT_BUDGET = PER_HOUR(250_000);

/** A clock that only moves when someone sleeps on it; every requested wait is recorded. */
function fakeClock() {
  let t = START;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleeps,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      t += ms;
    },
  };
}

describe('InMemoryRateLimiter pacing', () => {
  it('lets a burst through, then spaces requests by the budget (perMs / requests)', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 3, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 3; i++) await limiter.acquire(KEY, PER_HOUR(3_600));
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire(KEY, PER_HOUR(3_600));
    await limiter.acquire(KEY, PER_HOUR(3_600));
    // 3,600/h is one per second; the burst used the next 2 slots ahead of time.
    expect(clock.sleeps).toEqual([1_000, 1_000]);
  });

  it('refills the burst after idle time', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 2, now: clock.now, sleep: clock.sleep });
    await limiter.acquire(KEY, PER_HOUR(3_600));
    await limiter.acquire(KEY, PER_HOUR(3_600));
    clock.advance(10_000);
    await limiter.acquire(KEY, PER_HOUR(3_600));
    await limiter.acquire(KEY, PER_HOUR(3_600));
    expect(clock.sleeps).toEqual([]);
  });

  it('keeps one budget per key', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 1, now: clock.now, sleep: clock.sleep });
    await limiter.acquire('key-number-one-xxxx', PER_HOUR(3_600));
    await limiter.acquire('key-number-two-xxxx', PER_HOUR(3_600));
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire('key-number-one-xxxx', PER_HOUR(3_600));
    expect(clock.sleeps).toEqual([1_000]);
  });

  it("paces Braze's cohort-import budget of 250,000 requests per hour 14.4 ms apart", async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 1, now: clock.now, sleep: clock.sleep });
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps[0]).toBeCloseTo(14.4, 3);
  });
});

describe('InMemoryRateLimiter feedback from Braze', () => {
  it('blocks a key until X-RateLimit-Reset after a 429', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, { resetEpochSeconds: START / 1000 + 45 }, 429);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([45_000]);
    await limiter.acquire('another-key-entirely', DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([45_000]);
  });

  it('pauses briefly after a 429 without reset information', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ pauseWithoutResetMs: 2_500, now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, {}, 429);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([2_500]);
  });

  it('blocks until the reset when Remaining reaches the reserve, even on a 2xx', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ reserve: 5, now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, { limit: 250_000, remaining: 5, resetEpochSeconds: START / 1000 + 120 }, 201);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([120_000]);
  });

  it('spreads the remaining budget over the time left in the window', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 1, reserve: 0, now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, { remaining: 10, resetEpochSeconds: START / 1000 + 100 }, 201);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([10_000]);
  });

  it('ignores a reset already in the past', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, { remaining: 0, resetEpochSeconds: START / 1000 - 1 }, 200);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([]);
  });

  it('never shortens an existing block', async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ now: clock.now, sleep: clock.sleep });
    limiter.observe(KEY, { resetEpochSeconds: START / 1000 + 60 }, 429);
    limiter.observe(KEY, { resetEpochSeconds: START / 1000 + 10 }, 429);
    await limiter.acquire(KEY, DEFAULT_BUDGET);
    expect(clock.sleeps).toEqual([60_000]);
  });

  it('logs a fingerprint of the key, never the key', () => {
    const lines: { obj: object; msg: string }[] = [];
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({
      now: clock.now,
      sleep: clock.sleep,
      logger: { warn: (obj, msg) => lines.push({ obj, msg }) },
    });
    limiter.observe(KEY, { resetEpochSeconds: START / 1000 + 60 }, 429);
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(KEY);
    expect(lines[0]?.obj).toMatchObject({
      key: keyFingerprint(KEY),
      pausedUntil: new Date(START + 60_000).toISOString(),
    });
  });
});

describe('InMemoryRateLimiter budgets', () => {
  it("paces each call by the budget it is given: /users/track's 3,000 per 3 s is 1 ms apart", async () => {
    const clock = fakeClock();
    const limiter = new InMemoryRateLimiter({ burst: 1, now: clock.now, sleep: clock.sleep });
    await limiter.acquire('rest-key-0000000000', { requests: 3_000, perMs: 3_000 });
    await limiter.acquire('rest-key-0000000000', { requests: 3_000, perMs: 3_000 });
    expect(clock.sleeps).toEqual([1]);
  });

  it('refuses an empty budget', async () => {
    const limiter = new InMemoryRateLimiter();
    await expect(limiter.acquire(KEY, { requests: 0, perMs: 1_000 })).rejects.toThrow(RangeError);
  });
});

describe('InMemoryRateLimiter abort', () => {
  it('rejects a waiting acquire when the signal aborts', async () => {
    const limiter = new InMemoryRateLimiter({ now: () => START });
    limiter.observe(KEY, { resetEpochSeconds: START / 1000 + 3_600 }, 429);
    const controller = new AbortController();
    const waiting = limiter.acquire(KEY, DEFAULT_BUDGET, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(waiting).rejects.toThrow(/abort/i);
  });

  it('rejects at once with an already aborted signal', async () => {
    const limiter = new InMemoryRateLimiter();
    await expect(limiter.acquire(KEY, DEFAULT_BUDGET, AbortSignal.abort())).rejects.toThrow();
  });
});
