// Behavioral cohorts over a real store (SQLite, and PostgreSQL when configured): validation on save with the
// path of every bad node, full evaluation of every kind of condition, incremental evaluation of touched
// profiles, the window sweeper, size history, explain and estimate.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BehavioralEvaluator,
  estimateDefinition,
  explainBehavioral,
  longestWindowMs,
  sizeHistory,
} from '../../src/app/behavioral.ts';
import { createCohort, deleteCohort, updateCohort } from '../../src/app/cohort-admin.ts';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { AppError } from '../../src/app/errors.ts';
import { parseDefinition } from '../../src/domain/behavioral.ts';
import { type BehavioralWorld, behavioralWorld, T0 } from '../support/behavioral.ts';
import { ENGINES, SQLITE_WRITER_THREAD } from '../support/engines.ts';

const DAY = 86_400_000;
const MIN = 60_000;

async function problemsOf(p: Promise<unknown>): Promise<{ path: string; message: string }[]> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).status).toBe(400);
    return ((e as AppError).details as { fields: { path: string; message: string }[] }).fields;
  }
  throw new Error('expected a 400');
}

// Also with the writer thread: its passes (evaluateMany) cross to the writer's connection.
describe.each([...ENGINES, SQLITE_WRITER_THREAD])('behavioral cohorts on $name', (engine) => {
  let w: BehavioralWorld;
  beforeEach(async () => {
    w = await behavioralWorld(engine, { eventRetentionDays: 90 });
  });
  afterEach(async () => {
    await w?.close();
  });

  const behavioral = (name: string, definition: unknown) =>
    createCohort(w.deps, w.projectId, { name, type: 'behavioral', definition });

  it('refuses bad definitions with the path of every bad node', async () => {
    const other = await behavioral('A', { all: [{ any: [{ event: 'Open' }] }] });
    const problems = await problemsOf(
      behavioral('Bad', {
        all: [
          { any: [{ event: 'Purchase', count: { op: 'atleast', value: 2 }, within: { last: 91, unit: 'day' } }] },
          { any: [{ userProperty: 'plan', op: 'eq' }, { inCohort: 'coh_nope' }] },
          { not: 'yes', any: [{ event: 'X', where: [{ property: 'a', op: 'in', value: [] }], extra: 1 }] },
        ],
      }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        'definition.all[0].any[0].count.op',
        'definition.all[0].any[0].within',
        'definition.all[1].any[0].value',
        'definition.all[2].not',
        'definition.all[2].any[0].extra',
        'definition.all[2].any[0].where[0].value',
      ].sort(),
    );
    // Unknown cohorts are found once the shape is right.
    expect(await problemsOf(behavioral('Bad', { all: [{ any: [{ inCohort: 'coh_nope' }] }] }))).toEqual([
      { path: 'definition.all[0].any[0].inCohort', message: 'unknown cohort "coh_nope"' },
    ]);
    // A cycle through inCohort: B reads A, then A is changed to read B.
    const b = await behavioral('B', { all: [{ any: [{ inCohort: other.id }] }] });
    const cycle = await problemsOf(
      updateCohort(w.deps, w.projectId, other.id, { definition: { all: [{ any: [{ inCohort: b.id }] }] } }),
    );
    expect(cycle).toHaveLength(1);
    expect(cycle[0]!.path).toBe('definition.all[0].any[0].inCohort');
    expect(cycle[0]!.message).toMatch(/cycle/);
    // A cohort another one reads cannot be deleted.
    await expect(deleteCohort(w.deps, w.projectId, other.id)).rejects.toMatchObject({ status: 409 });
  });

  it('evaluates every kind of condition in full, on save and after a definition change', async () => {
    const now = T0;
    const ann = await w.profile('ann', { country: 'FR', plan: 'pro', age: 41 });
    const bob = await w.profile('bob', { country: 'US', plan: 'free', age: '41' });
    const cid = await w.profile('cid', { country: 'DE', tags: 'beta,vip' });
    const dee = await w.profile('dee', {});
    // ann bought twice as pro in the window; bob twice but once as free; cid three times, one too old.
    await w.event(ann, 'Purchase', now - 1 * DAY, { plan: 'pro', amount: 10 });
    await w.event(ann, 'Purchase', now - 2 * DAY, { plan: 'pro', amount: 30 });
    await w.event(bob, 'Purchase', now - 1 * DAY, { plan: 'pro', amount: 5 });
    await w.event(bob, 'Purchase', now - 3 * DAY, { plan: 'free', amount: 5 });
    await w.event(cid, 'Purchase', now - 1 * DAY, { plan: 'pro' });
    await w.event(cid, 'Purchase', now - 2 * DAY, { plan: 'pro' });
    await w.event(cid, 'Purchase', now - 40 * DAY, { plan: 'pro' });
    await w.event(dee, 'Open', now - 1 * MIN);

    const twiceProIn30 = await behavioral('Buyers', {
      all: [
        {
          any: [
            {
              event: 'Purchase',
              where: [{ property: 'plan', op: 'eq', value: 'pro' }],
              count: { op: 'gte', value: 2 },
              within: { last: 30, unit: 'day' },
            },
          ],
        },
      ],
    });
    expect(await w.members(twiceProIn30.id)).toEqual([ann, cid]);
    expect(twiceProIn30.size).toBe(2);

    // A negated group ("did not") wins over the rest; user properties compare as typed JSON scalars.
    const notFrench = await behavioral('Not FR buyers', {
      all: [
        { any: [{ inCohort: twiceProIn30.id }] },
        { not: true, any: [{ userProperty: 'country', op: 'eq', value: 'FR' }] },
      ],
    });
    expect(await w.members(notFrench.id)).toEqual([cid]);
    const numericAge = await behavioral('Age', { all: [{ any: [{ userProperty: 'age', op: 'gte', value: 40 }] }] });
    expect(await w.members(numericAge.id)).toEqual([ann]); // bob's "41" is a string
    const ops = await behavioral('Ops', {
      all: [
        {
          any: [
            { userProperty: 'tags', op: 'contains', value: 'vip' },
            { userProperty: 'country', op: 'in', value: ['US', 'ES'] },
          ],
        },
        {
          any: [
            { userProperty: 'plan', op: 'not_set' },
            { userProperty: 'plan', op: 'neq', value: 'pro' },
          ],
        },
      ],
    });
    expect(await w.members(ops.id)).toEqual([bob, cid]);
    // "Fewer than 2 purchases in the last day" holds for people with none too.
    const fewer = await behavioral('Few', {
      all: [{ any: [{ event: 'Purchase', count: { op: 'lt', value: 2 }, within: { last: 36, unit: 'hour' } }] }],
    });
    expect(await w.members(fewer.id)).toEqual([ann, bob, cid, dee]);
    const sum = await behavioral('Amount', {
      all: [
        {
          any: [
            {
              event: 'Purchase',
              where: [{ property: 'amount', op: 'gt', value: 20 }],
              within: { since: '2026-05-01' },
            },
          ],
        },
      ],
    });
    expect(await w.members(sum.id)).toEqual([ann]);

    // PATCH of the definition re-evaluates, and the cohort reading it follows.
    const patched = await updateCohort(w.deps, w.projectId, twiceProIn30.id, {
      definition: { all: [{ any: [{ event: 'Purchase', count: { op: 'gte', value: 3 } }] }] },
    });
    expect(patched.size).toBe(1);
    expect(await w.members(twiceProIn30.id)).toEqual([cid]);
    expect(await w.members(notFrench.id)).toEqual([cid]);
    const estimate = await estimateDefinition(w.deps, w.projectId, {
      all: [{ any: [{ event: 'Purchase' }] }, { not: true, any: [{ userProperty: 'country', op: 'eq', value: 'DE' }] }],
    });
    expect(estimate.size).toBe(2);
    expect(estimate.summary).toBe(
      'Users who performed Purchase in the retention period and not (user property country is "DE")',
    );
    expect(await longestWindowMs(w.deps, w.projectId)).toBe(90 * DAY);
  });

  it('leaves the members among a scope that can only join as they are, and decides the others', async () => {
    const ann = await w.profile('ann');
    const bob = await w.profile('bob');
    const cy = await w.profile('cy');
    const definition = { all: [{ any: [{ event: 'Open', within: { last: 10, unit: 'minute' } }] }] };
    const cohort = await behavioral('Opened', definition);
    const parsed = parseDefinition(definition, { retentionDays: 90, nowMs: T0 });
    if (!parsed.ok) throw new Error('bad definition');
    await w.event(ann, 'Open', T0 - MIN);
    await w.event(bob, 'Open', T0 - MIN);
    const evaluate = (scope: { ids: number[]; joinOnly?: number[] }) =>
      w.deps.store.behavioral.evaluate({
        projectId: w.projectId,
        cohortId: cohort.id,
        definition: parsed.definition,
        nowMs: w.clock.now().getTime(),
        retentionDays: 90,
        scope: { kind: 'profiles', ...scope },
        history: 'change',
      });
    await evaluate({ ids: [ann, bob] });
    expect(await w.members(cohort.id)).toEqual([ann, bob].sort((a, b) => a - b));
    // Eleven minutes on nobody qualifies: a member that can only join stays (the sweeper re-decides aged
    // windows), a member decided again leaves, and a non-member that now qualifies joins either way.
    w.clock.advance(11 * MIN);
    await w.event(cy, 'Open', w.clock.now().getTime());
    const r = await evaluate({ ids: [bob], joinOnly: [ann, cy] });
    expect(await w.members(cohort.id)).toEqual([ann, cy].sort((a, b) => a - b));
    expect(r).toMatchObject({ added: 1, removed: 1, size: 2 });
  });

  it('re-decides touched profiles on ingest, sweeps aged-out members within a pass, and keeps size history', async () => {
    const announced: string[] = [];
    const evaluator = new BehavioralEvaluator(w.deps, async (_p, cohortId) => {
      announced.push(cohortId);
    });
    const ann = await w.profile('ann', { plan: 'pro' });
    const bob = await w.profile('bob', { plan: 'pro' });
    const cohort = await behavioral('Active pros', {
      all: [
        { any: [{ event: 'Open', count: { op: 'gte', value: 2 }, within: { last: 10, unit: 'minute' } }] },
        { any: [{ userProperty: 'plan', op: 'eq', value: 'pro' }] },
      ],
    });
    const reader = await behavioral('Reader', { all: [{ any: [{ inCohort: cohort.id }] }] });
    expect(await w.members(cohort.id)).toEqual([]);

    await w.event(ann, 'Open', T0 - 2 * MIN);
    await w.event(ann, 'Open', T0 - 1 * MIN);
    await w.event(bob, 'Open', T0 - 1 * MIN);
    evaluator.onIngested({ projectId: w.projectId, profileIds: [ann, bob] });
    await evaluator.idle();
    expect(await w.members(cohort.id)).toEqual([ann]);
    expect(await w.members(reader.id)).toEqual([ann]);
    expect(announced.sort()).toEqual([cohort.id, reader.id].sort());

    // ann changes plan: an identify-only batch touches her and she leaves both cohorts.
    await w.setProperties(ann, { plan: 'free' });
    evaluator.onIngested({ projectId: w.projectId, profileIds: [ann] });
    await evaluator.idle();
    expect(await w.members(cohort.id)).toEqual([]);
    await w.setProperties(ann, { plan: 'pro' });
    evaluator.onIngested({ projectId: w.projectId, profileIds: [ann] });
    await evaluator.idle();
    expect(await w.members(reader.id)).toEqual([ann]);

    // Nine minutes later her first Open is still inside the window; a minute after that it aged out.
    w.clock.advance(7 * MIN);
    await evaluator.sweep();
    expect(await w.members(cohort.id)).toEqual([ann]);
    w.clock.advance(2 * MIN);
    await evaluator.sweep();
    expect(await w.members(cohort.id)).toEqual([]);
    expect(await w.members(reader.id)).toEqual([]);

    const history = await sizeHistory(w.deps, w.projectId, cohort.id, {});
    // One point for the evaluation on save, one for the real-time changes of that minute (its last size), one for the sweep.
    expect(history.points.map((p) => p.size)).toEqual([0, 1, 0]);
    expect(history.points[0]!.at).toBe(new Date(T0).toISOString());
    expect(history.points.at(-1)!.at).toBe(new Date(T0 + 9 * MIN).toISOString());
    const narrow = await sizeHistory(w.deps, w.projectId, cohort.id, {
      from: new Date(T0 + MIN).toISOString(),
    });
    expect(narrow.points).toEqual([{ at: new Date(T0 + 9 * MIN).toISOString(), size: 0 }]);
  });

  it('explains, condition by condition, why a user is in or out', async () => {
    const ann = await w.profile('ann', { country: 'US' });
    await w.event(ann, 'Purchase', T0 - DAY);
    const vip = await createStaticCohort(w.deps, w.projectId, { name: 'VIP' });
    await changeMembers(w.deps, w.projectId, vip.id, { add: [{ user_id: 'ann' }] });
    const cohort = await behavioral('Buyers', {
      all: [
        { any: [{ event: 'Purchase', count: { op: 'gte', value: 2 }, within: { last: 30, unit: 'day' } }] },
        { not: true, any: [{ userProperty: 'country', op: 'eq', value: 'FR' }] },
        { any: [{ inCohort: vip.id }] },
      ],
    });
    const e = await explainBehavioral(w.deps, w.projectId, cohort.id, { userId: 'ann' });
    expect(e.member).toBe(false);
    expect(e.matches).toBe(false);
    expect(e.groups.map((g) => g.holds)).toEqual([false, true, true]);
    expect(e.groups[0]!.conditions[0]!.text).toBe('performed Purchase 1 time in the last 30 days; needs ≥ 2');
    expect(e.groups[1]!.conditions[0]).toEqual({
      holds: false,
      text: 'user property country is "US"; needs: country is "FR"',
    });
    expect(e.groups[2]!.conditions[0]!.text).toBe('is in cohort "VIP"');
    expect(e.summary).toBe(
      'Users who performed Purchase at least 2 times in the last 30 days and not (user property country is "FR") and is in cohort "VIP"',
    );
  });
});
