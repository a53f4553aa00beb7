import { describe, expect, it } from 'vitest';
import { cronProblem, DEFAULT_REALTIME_RECONCILE_MS, nextRunAfter, spreadOffsetMs } from '../../src/domain/cadence.ts';
import { incrementalIsExact, userIdAliasLabels } from '../../src/domain/incremental.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => new Date(iso);
const ids = Array.from({ length: 200 }, (_, i) => `syn_${i.toString(36).padStart(6, '0')}`);

describe('spread by sync id', () => {
  it('is stable for one id, whole minutes, inside the period', () => {
    for (const id of ids) {
      const hourly = spreadOffsetMs(id, HOUR);
      expect(spreadOffsetMs(id, HOUR)).toBe(hourly);
      expect(hourly % 60_000).toBe(0);
      expect(hourly).toBeGreaterThanOrEqual(0);
      expect(hourly).toBeLessThan(HOUR);
      expect(spreadOffsetMs(id, DAY)).toBeLessThan(DAY);
    }
  });

  it('spreads syncs over the period instead of firing them all at :00', () => {
    const minutes = new Set(ids.map((id) => spreadOffsetMs(id, HOUR) / 60_000));
    // 200 ids over 60 minutes: a hash that spreads hits most minutes; a constant would hit one.
    expect(minutes.size).toBeGreaterThan(45);
    const dailyHours = new Set(ids.map((id) => Math.floor(spreadOffsetMs(id, DAY) / HOUR)));
    expect(dailyHours.size).toBeGreaterThan(20);
  });
});

describe('nextRunAfter', () => {
  it('hourly: the sync’s minute of the next hour, strictly after, then every hour', () => {
    const id = ids[7]!;
    const offset = spreadOffsetMs(id, HOUR);
    const now = at('2025-03-10T12:00:00.000Z');
    const first = nextRunAfter('hourly', id, now)!;
    expect(first.getTime()).toBe(offset === 0 ? now.getTime() + HOUR : now.getTime() + offset);
    // From the exact slot the next one is a full period later, never the same instant.
    const second = nextRunAfter('hourly', id, first)!;
    expect(second.getTime() - first.getTime()).toBe(HOUR);
    // Anywhere in between gives the same next slot.
    expect(nextRunAfter('hourly', id, new Date(first.getTime() + 1))!.getTime()).toBe(second.getTime());
    expect(nextRunAfter('hourly', id, new Date(second.getTime() - 1))!.getTime()).toBe(second.getTime());
  });

  it('hourly and daily times differ between syncs', () => {
    const now = at('2025-03-10T12:00:00.000Z');
    const hourly = new Set(ids.map((id) => nextRunAfter('hourly', id, now)!.toISOString()));
    const daily = new Set(ids.map((id) => nextRunAfter('daily', id, now)!.toISOString()));
    expect(hourly.size).toBeGreaterThan(45);
    expect(daily.size).toBeGreaterThan(100);
  });

  it('daily: once a day at the sync’s own time of day (UTC)', () => {
    const id = ids[3]!;
    const offset = spreadOffsetMs(id, DAY);
    const now = at('2025-03-10T00:00:00.000Z');
    const first = nextRunAfter('daily', id, now)!;
    expect(first.getTime()).toBe(offset === 0 ? now.getTime() + DAY : now.getTime() + offset);
    expect(first.getTime() - now.getTime()).toBeLessThanOrEqual(DAY);
    const second = nextRunAfter('daily', id, first)!;
    expect(second.getTime() - first.getTime()).toBe(DAY);
    expect(second.toISOString().slice(11)).toBe(first.toISOString().slice(11));
  });

  it('cron: the next match in UTC, strictly after', () => {
    expect(nextRunAfter('cron', 'syn_x', at('2025-03-10T10:07:30.000Z'), '*/15 * * * *')!.toISOString()).toBe(
      '2025-03-10T10:15:00.000Z',
    );
    expect(nextRunAfter('cron', 'syn_x', at('2025-03-10T10:15:00.000Z'), '*/15 * * * *')!.toISOString()).toBe(
      '2025-03-10T10:30:00.000Z',
    );
    // Mondays 09:00 UTC; 2025-03-10 is a Monday.
    expect(nextRunAfter('cron', 'syn_x', at('2025-03-10T09:00:00.000Z'), '0 9 * * 1')!.toISOString()).toBe(
      '2025-03-17T09:00:00.000Z',
    );
    expect(nextRunAfter('cron', 'syn_x', at('2025-03-10T08:59:00.000Z'), '0 9 * * 1')!.toISOString()).toBe(
      '2025-03-10T09:00:00.000Z',
    );
    // The sync id does not move cron times.
    expect(nextRunAfter('cron', 'syn_other', at('2025-03-10T10:07:30.000Z'), '*/15 * * * *')!.toISOString()).toBe(
      '2025-03-10T10:15:00.000Z',
    );
    expect(nextRunAfter('cron', 'syn_x', at('2025-03-10T10:07:30.000Z'), null)).toBeNull();
  });

  it('one-time: no scheduled run', () => {
    expect(nextRunAfter('one_time', 'syn_x', at('2025-03-10T10:00:00.000Z'))).toBeNull();
  });

  it('real-time: the next full reconciliation, one period after', () => {
    const now = at('2025-03-10T10:00:00.000Z');
    expect(nextRunAfter('real_time', 'syn_x', now)!.getTime()).toBe(now.getTime() + DEFAULT_REALTIME_RECONCILE_MS);
    expect(DEFAULT_REALTIME_RECONCILE_MS).toBe(HOUR);
    expect(nextRunAfter('real_time', 'syn_x', now, null, { realtimeReconcileMs: 15 * 60_000 })!.toISOString()).toBe(
      '2025-03-10T10:15:00.000Z',
    );
  });

  it('cron problems are explained', () => {
    expect(cronProblem('*/5 * * * *')).toBeNull();
    expect(cronProblem('not a cron')).toMatch(/not valid/);
    // A seconds field would run the sync on every scheduler tick (issue 12, item 7).
    expect(cronProblem('* * * * * *')).toMatch(/seconds field is not supported/);
    expect(cronProblem('0 0 0 * * * 2030')).toMatch(/exactly 5 fields/);
    expect(cronProblem('@hourly')).toBeNull();
  });
});

describe('incremental exactness', () => {
  it('is exact for mappings whose identifiers belong to one profile, not for aliases on a shared property', () => {
    expect(incrementalIsExact({ type: 'user_id' })).toBe(true);
    expect(incrementalIsExact({ type: 'device_id' })).toBe(true);
    expect(incrementalIsExact({ type: 'user_alias', aliasLabel: 'amp' })).toBe(true);
    expect(incrementalIsExact({ type: 'user_alias', aliasLabel: 'amp', aliasProperty: 'user_id' })).toBe(true);
    expect(incrementalIsExact({ type: 'user_alias', aliasLabel: 'amp', aliasProperty: 'email' })).toBe(false);
    expect(
      incrementalIsExact({
        type: 'user_id',
        fallbacks: [{ type: 'user_alias', aliasLabel: 'x', aliasProperty: 'plan' }],
      }),
    ).toBe(false);
    expect(
      userIdAliasLabels({
        type: 'user_id',
        fallbacks: [
          { type: 'user_alias', aliasLabel: 'x' },
          { type: 'user_alias', aliasLabel: 'y', aliasProperty: 'plan' },
        ],
      }),
    ).toEqual(['x']);
  });
});
