// Static cohorts have a size history too (docs/cohorts.md "Size history"): every upload or members-API change
// records the size, one point per cohort and minute (the minute's last size), so a burst of changes is one row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizeHistory } from '../../src/app/behavioral.ts';
import { createCohort } from '../../src/app/cohort-admin.ts';
import { changeMembers, replaceMembers } from '../../src/app/cohorts.ts';
import { type BehavioralWorld, behavioralWorld, T0 } from '../support/behavioral.ts';
import { ENGINES } from '../support/engines.ts';

async function* rows(userIds: readonly string[]) {
  let line = 1;
  for (const user_id of userIds) yield { line: ++line, raw: { user_id } };
}

describe.each(ENGINES)('size history of static cohorts on $name', (engine) => {
  let w: BehavioralWorld;
  beforeAll(async () => {
    w = await behavioralWorld(engine);
  });
  afterAll(async () => {
    await w?.close();
  });

  it('records a point per minute of changes from uploads and the members API, none for a change of nothing', async () => {
    w.clock.set(new Date(T0));
    const cohort = await createCohort(w.deps, w.projectId, { name: 'Uploaded', type: 'static' });
    const points = async () =>
      (await sizeHistory(w.deps, w.projectId, cohort.id, { from: new Date(T0 - 60_000).toISOString() })).points;
    expect(await points()).toEqual([]);

    await replaceMembers(w.deps, w.projectId, cohort.id, rows(['a', 'b', 'c']));
    w.clock.advance(10_000);
    // Within the same minute: the minute's point moves to the latest size.
    await changeMembers(w.deps, w.projectId, cohort.id, { add: [{ user_id: 'd' }], remove: [{ user_id: 'a' }] });
    expect(await points()).toEqual([{ at: new Date(T0 + 10_000).toISOString(), size: 3 }]);

    w.clock.advance(60_000);
    await changeMembers(w.deps, w.projectId, cohort.id, { add: [{ user_id: 'e' }, { user_id: 'f' }] });
    w.clock.advance(60_000);
    await replaceMembers(w.deps, w.projectId, cohort.id, rows(['e']));
    w.clock.advance(60_000);
    // Nothing changes: no point.
    await changeMembers(w.deps, w.projectId, cohort.id, { remove: [{ user_id: 'nobody' }], add: [{ user_id: 'e' }] });
    await replaceMembers(w.deps, w.projectId, cohort.id, rows(['e']));
    expect(await points()).toEqual([
      { at: new Date(T0 + 10_000).toISOString(), size: 3 },
      { at: new Date(T0 + 70_000).toISOString(), size: 5 },
      { at: new Date(T0 + 130_000).toISOString(), size: 1 },
    ]);
  });
});
