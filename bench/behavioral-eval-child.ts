// One behavioral-evaluation measurement in a process of its own, so its peak RSS is its own: the baseline
// scans first, then the full evaluation through the service's own repository (first: every member joins;
// second: the steady state, nothing changes), then an estimate. Prints one JSON line.
import { writeFileSync } from 'node:fs';
import { sql } from 'kysely';
import { openStore, type StoreLocation } from '../src/adapters/store/index.ts';
import { parseDefinition } from '../src/domain/behavioral.ts';
import { BEHAV_PROJECT } from './behavioral-seed.ts';
import { currentRssMb, peakRssMb } from './rss.ts';

const [locationJson, nowText, cohortId] = process.argv.slice(2);
const location = JSON.parse(locationJson!) as StoreLocation;
const nowMs = Number(nowText);

/** Resets VmHWM so the peak reported is this phase's, not the process start's (Linux; harmless elsewhere). */
const resetPeak = () => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux
  }
};

export const BENCH_DEFINITION = {
  all: [
    {
      any: [
        {
          event: 'Purchase',
          where: [{ property: 'plan', op: 'eq', value: 'pro' }],
          count: { op: 'gte', value: 2 },
          within: { last: 30, unit: 'day' },
        },
        { event: 'Open', count: { op: 'gte', value: 8 }, within: { last: 7, unit: 'day' } },
      ],
    },
    { not: true, any: [{ userProperty: 'country', op: 'eq', value: 'FR' }] },
  ],
};

const store = await openStore(location, { migrate: false });
const db = store.raw.db;
const parsed = parseDefinition(BENCH_DEFINITION, { retentionDays: 400, nowMs });
if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
const timed = async <T>(f: () => Promise<T>) => {
  resetPeak();
  const t = performance.now();
  const value = await f();
  return { value, seconds: (performance.now() - t) / 1000, peakRssMb: peakRssMb() };
};
const scan = await timed(async () =>
  Number(
    (await sql<{ n: number }>`select count(*) as n from events where project_id = ${BEHAV_PROJECT}`.execute(db))
      .rows[0]!.n,
  ),
);
const grouped = await timed(async () =>
  Number(
    (
      await sql<{ n: number }>`select count(*) as n from (select profile_id from events
        where project_id = ${BEHAV_PROJECT} and event_type = 'Purchase' and time_ms >= ${nowMs - 30 * 86_400_000}
        group by profile_id having count(*) >= 2) x`.execute(db)
    ).rows[0]!.n,
  ),
);
const evaluate = () =>
  store.behavioral.evaluate({
    projectId: BEHAV_PROJECT,
    cohortId: cohortId!,
    definition: parsed.definition,
    nowMs,
    retentionDays: 400,
    scope: { kind: 'all' },
    history: 'evaluation',
  });
const first = await timed(evaluate);
const second = await timed(evaluate);
const estimate = await timed(() => store.behavioral.estimate(BEHAV_PROJECT, parsed.definition, nowMs, 400));
await store.close();
process.stdout.write(`${JSON.stringify({ scan, grouped, first, second, estimate, rssAtEndMb: currentRssMb() })}\n`);
