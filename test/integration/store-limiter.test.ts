// The shared request budget on the real PostgreSQL: two limiters on two connection pools stand for two
// processes. Budgets here are slow (a slot every few seconds), so "must wait" and "may go now" are far apart
// and the checks do not depend on timing.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { gcraFor, StoreRequestLimiter } from '../../src/adapters/limiter/store-limiter.ts';
import { openStore } from '../../src/adapters/store/index.ts';
import { ENGINES } from '../support/engines.ts';

const postgres = ENGINES.find((e) => e.name === 'postgres');
/** 10 per minute: a slot every ~7.5 s; burst 2 of which 1 is real-time headroom. */
const SLOW = { requests: 10, perMs: 60_000 };

/** Whether acquire resolved within `ms` (else it was aborted while waiting for its slot). */
async function goesWithin(limiter: StoreRequestLimiter, key: string, lane: 'bulk' | 'realtime', ms = 300) {
  try {
    await limiter.acquire(key, SLOW, AbortSignal.timeout(ms), lane);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!postgres)('shared request limiter on PostgreSQL', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function twoProcesses() {
    const f = await postgres!.fresh();
    const a = await openStore(f.location);
    const b = await openStore(f.location, { migrate: false });
    cleanup.push(async () => {
      await a.close();
      await b.close();
      await f.drop();
    });
    return { a: new StoreRequestLimiter(a.raw.db), b: new StoreRequestLimiter(b.raw.db), db: a.raw.db };
  }

  it('derives a pace that a fixed-window counter never sees exceeded', () => {
    for (const budget of [
      { requests: 250_000, perMs: 3_600_000 },
      { requests: 3_000, perMs: 3_000 },
      { requests: 25, perMs: 1_000 },
    ]) {
      const g = gcraFor(budget);
      // Any window of perMs admits at most perMs / interval + burst requests.
      expect(budget.perMs / g.intervalMs + g.burst).toBeLessThanOrEqual(budget.requests);
      expect(g.toleranceMs.bulk).toBeGreaterThanOrEqual(0);
      expect(g.toleranceMs.realtime).toBeGreaterThan(g.toleranceMs.bulk);
    }
  });

  it('is one budget across processes, with headroom only real-time requests may use', async () => {
    const { a, b, db } = await twoProcesses();
    const key = 'data-import-key-secret';
    expect(await goesWithin(a, key, 'bulk')).toBe(true);
    // The other process sees the slot taken: bulk must wait, though it never sent anything itself.
    expect(await goesWithin(b, key, 'bulk')).toBe(false);
    // A real-time request still goes at once, on the headroom bulk runs leave.
    expect(await goesWithin(b, 'data-import-key-secret', 'realtime')).toBe(true);
    expect(await goesWithin(a, key, 'realtime')).toBe(false);
    // Another key has a budget of its own.
    expect(await goesWithin(a, 'another-key', 'bulk')).toBe(true);

    const rows = await sql<{ key: string }>`select key from rate_limits`.execute(db);
    expect(rows.rows).toHaveLength(2);
    for (const r of rows.rows) expect(r.key).not.toContain('secret');
  });

  it("pauses every process on one process's 429 until the reset", async () => {
    const { a, b } = await twoProcesses();
    const key = 'k-429';
    const generous = { requests: 1_000, perMs: 1_000 };
    await a.acquire(key, generous);
    a.observe(key, { resetEpochSeconds: Date.now() / 1000 + 30 }, 429);
    await new Promise((r) => setTimeout(r, 100)); // observe writes in the background
    await expect(b.acquire(key, generous, AbortSignal.timeout(300))).rejects.toThrow();
    // X-RateLimit-Remaining at the reserve blocks too.
    a.observe('k-low', { limit: 1_000, remaining: 2, resetEpochSeconds: Date.now() / 1000 + 30 }, 200);
    await new Promise((r) => setTimeout(r, 100));
    await expect(b.acquire('k-low', generous, AbortSignal.timeout(300))).rejects.toThrow();
  });
});
