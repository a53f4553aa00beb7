// Retention: events older than EVENT_RETENTION_DAYS are pruned unless a saved cohort's window still
// needs them; expired dedupe keys go too, so an old insert_id is accepted again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneEventHistory } from '../../src/app/event-retention.ts';
import { ENGINES } from '../support/engines.ts';
import { type IngestBed, startIngestBed } from './support.ts';

const DAY = 86_400_000;

describe.each(ENGINES)('event retention on $name', (engine) => {
  let bed: IngestBed;
  let nowMs = Date.UTC(2026, 5, 1);
  beforeAll(async () => {
    bed = await startIngestBed(engine, { clock: { now: () => new Date(nowMs) } });
  });
  afterAll(async () => {
    await bed.close();
  });

  it('prunes past retention, keeps what the longest cohort window needs, and expires dedupe keys', async () => {
    const at = (days: number) => nowMs - days * DAY;
    const r = await bed.post('/2/httpapi', {
      api_key: bed.apiKey,
      events: [10, 50, 120, 500].map((d) => ({
        event_type: `Age ${d}`,
        user_id: 'retention-user',
        time: at(d),
        insert_id: `age-${d}`,
      })),
    });
    expect(r.status).toBe(200);
    const ages = async () => (await bed.storedEvents()).map((e) => e.event_type);

    // A cohort looks back 200 days: with 100 days' retention only the 500-day-old event goes.
    let report = await pruneEventHistory(bed.c.deps, {
      retentionDays: 100,
      longestWindowMs: async () => 200 * DAY,
      batch: 1,
    });
    expect(report.events).toBe(1);
    expect(await ages()).toEqual(['Age 10', 'Age 50', 'Age 120']);

    report = await pruneEventHistory(bed.c.deps, { retentionDays: 30, longestWindowMs: async () => 0 });
    expect(report.events).toBe(2);
    expect(await ages()).toEqual(['Age 10']);
    expect(report.dedupeKeys).toBe(0);

    nowMs += 8 * DAY;
    report = await pruneEventHistory(bed.c.deps, { retentionDays: 400, longestWindowMs: async () => 0 });
    expect(report.dedupeKeys).toBe(4);
    const again = await bed.post('/2/httpapi', {
      api_key: bed.apiKey,
      events: [{ event_type: 'Age 10', user_id: 'retention-user', time: at(18), insert_id: 'age-10' }],
    });
    expect(again.status).toBe(200);
    expect(await ages()).toEqual(['Age 10', 'Age 10']);
  });
});
