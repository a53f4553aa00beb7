// When scheduled syncs run (docs/product.md §4). Hourly and daily runs are spread across the period by sync id,
// as Amplitude does: users cannot pick the minute, but the next time is computed and shown. Pure: the
// caller passes the clock's time.
import { Cron } from 'croner';
import type { Cadence } from './model.ts';

const PERIOD_MS: Partial<Record<Cadence, number>> = { hourly: 3_600_000, daily: 86_400_000 };

/** A stable offset within the period, from the sync id (FNV-1a), so syncs do not all fire at :00. */
export function spreadOffsetMs(syncId: string, periodMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < syncId.length; i++) {
    h ^= syncId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Whole minutes: a run at 13:27:00 reads better than one at 13:27:41.
  return (h % Math.floor(periodMs / 60_000)) * 60_000;
}

/** Real-time syncs get a full reconciliation run this often unless configured otherwise. */
export const DEFAULT_REALTIME_RECONCILE_MS = 3_600_000;

export interface CadenceOptions {
  /** Period of the full reconciliation run of real-time syncs (REALTIME_RECONCILE_MINUTES). */
  readonly realtimeReconcileMs?: number;
}

/**
 * The next scheduled run strictly after `after`, or null for cadences with no schedule (one-time). For
 * real-time syncs it is the next full reconciliation: `after` + the reconcile period (incremental runs are
 * requested by membership changes, not by the schedule).
 */
export function nextRunAfter(
  cadence: Cadence,
  syncId: string,
  after: Date,
  cron?: string | null,
  opts: CadenceOptions = {},
): Date | null {
  if (cadence === 'real_time')
    return new Date(after.getTime() + (opts.realtimeReconcileMs ?? DEFAULT_REALTIME_RECONCILE_MS));
  if (cadence === 'cron') {
    if (!cron) return null;
    return new Cron(cron, { timezone: 'UTC' }).nextRun(after) ?? null;
  }
  const period = PERIOD_MS[cadence];
  if (!period) return null;
  const offset = spreadOffsetMs(syncId, period);
  const t = after.getTime();
  const periodStart = Math.floor(t / period) * period;
  let next = periodStart + offset;
  if (next <= t) next += period;
  return new Date(next);
}

/** Validates a cron expression; returns a message a person can act on, or null when it is fine. */
export function cronProblem(cron: string): string | null {
  // Croner also takes a leading seconds field (and a trailing year); a sync scheduled by the second would
  // run on every scheduler tick, so only the five standard fields (or an @nickname) are accepted.
  const fields = cron.trim().split(/\s+/);
  if (!cron.trim().startsWith('@') && fields.length !== 5)
    return `the cron expression is not valid: it must have exactly 5 fields (minute hour day-of-month month day-of-week); got ${fields.length}${fields.length === 6 ? ' — a seconds field is not supported' : ''}`;
  try {
    const next = new Cron(cron, { timezone: 'UTC' }).nextRun();
    return next ? null : 'the cron expression never fires';
  } catch (error) {
    return `the cron expression is not valid: ${(error as Error).message}`;
  }
}
