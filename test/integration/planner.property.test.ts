// Property tests of the planner against the real store and the Braze sandbox (GitHub issue 2).
// 1. Random membership, identity and property changes (incl. CSV replaces and pausing one of two syncs that
//    share a Braze cohort), each followed by a real sync run: applying every plan to the acknowledged set
//    yields the desired set — the store's acknowledged identifiers and the sandbox's received ones equal what
//    the domain's resolveIdentifiers gives the current members (paused syncs: keep what they still want).
// 2. The store's SQL resolution (mapping-sql.ts, through stageDesired/recordSkips) agrees with the domain.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort, replaceMembers } from '../../src/app/cohorts.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import { createTarget } from '../../src/app/targets.ts';
import { identifierKey } from '../../src/domain/identifiers.ts';
import { type Mapping, resolveIdentifiers } from '../../src/domain/mapping.ts';
import type { MemberInput, Sync } from '../../src/domain/model.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { ackedKeys, allMembers, desiredKeys, minus, sandboxKeys } from '../support/sync-checks.ts';

// ---- generators ---------------------------------------------------------------------------------------

const PROPS = ['crm_id', 'plan', 'a.b', 'with space', 'q"uote'] as const;

/** Values a JSON user property can take (no NaN/Infinity: they do not survive JSON). */
const propValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 4 }).filter((s) => !s.includes('\u0000')),
  fc.constant(''),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e21, 5e-7, 0.1, -0, 2 ** 53 + 2, 1e100),
  fc.boolean(),
  fc.constant(null),
  fc.constant([1, 'x']),
  fc.constant({ nested: true }),
);
const props = fc.dictionary(fc.constantFrom(...PROPS), propValue, { maxKeys: 3 });

const label = fc.constantFrom('crm', 'Label 2', 'lbl');
const step: fc.Arbitrary<Mapping> = fc.oneof(
  fc.constant<Mapping>({ type: 'user_id' }),
  fc.constant<Mapping>({ type: 'device_id' }),
  fc
    .record({ aliasLabel: label, aliasProperty: fc.option(fc.constantFrom('user_id', ...PROPS), { nil: undefined }) })
    .map(
      ({ aliasLabel, aliasProperty }): Mapping => ({
        type: 'user_alias',
        aliasLabel,
        ...(aliasProperty !== undefined ? { aliasProperty } : {}),
      }),
    ),
);
const mapping: fc.Arbitrary<Mapping> = fc
  .tuple(step, fc.array(fc.tuple(step, fc.array(step, { maxLength: 1 })), { maxLength: 2 }))
  .map(([primary, fallbacks]) =>
    fallbacks.length === 0
      ? primary
      : { ...primary, fallbacks: fallbacks.map(([m, f]) => (f.length > 0 ? { ...m, fallbacks: f } : m)) },
  );

// A small pool of ids so that steps collide: the same people join, leave, get identified, share devices.
const USERS = ['U0', 'U1', 'u1', 'U 3'] as const;
const DEVICES = ['D0', 'D1', 'D2', 'D3'] as const;

type Step =
  | { op: 'add' | 'remove'; cohort: 'main' | 'side'; user?: string; device?: string; props?: Record<string, unknown> }
  | { op: 'identify'; user: string; device: string }
  | { op: 'replace'; members: { user?: string; device?: string }[] }
  | { op: 'toggle-pause'; sync: number };

// Mostly one id at a time, so that separate anonymous and identified profiles exist for later steps to join.
const ids: fc.Arbitrary<{ user?: string; device?: string }> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...USERS).map((user) => ({ user })) },
  { weight: 2, arbitrary: fc.constantFrom(...DEVICES).map((device) => ({ device })) },
  { weight: 1, arbitrary: fc.record({ user: fc.constantFrom(...USERS), device: fc.constantFrom(...DEVICES) }) },
);

const stepArb: fc.Arbitrary<Step> = fc
  .oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        cohort: fc.constant('main' as const),
        ids,
        props: fc.option(props, { nil: undefined }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('remove' as const), cohort: fc.constant('main' as const), ids }),
    },
    // Property changes and identifications that happen outside the cohort still change what its members map to.
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        cohort: fc.constant('side' as const),
        ids,
        props: fc.option(props, { nil: undefined }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('identify' as const),
        user: fc.constantFrom(...USERS),
        device: fc.constantFrom(...DEVICES),
      }),
    },
    // A CSV upload replacing the whole membership.
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('replace' as const), members: fc.array(ids, { maxLength: 5 }) }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('toggle-pause' as const), sync: fc.nat({ max: 1 }) }) },
  )
  .map((s): Step => {
    if (s.op === 'identify' || s.op === 'replace' || s.op === 'toggle-pause') return s;
    const member: Step = { op: s.op, cohort: s.cohort, ...s.ids };
    return 'props' in s && s.props ? { ...member, props: s.props } : member;
  });

const scenario = fc.record({
  // Usually two syncs sharing the Braze cohort (the recipe), so that unions and pauses matter.
  syncs: fc
    .oneof({ weight: 1, arbitrary: fc.tuple(mapping) }, { weight: 3, arbitrary: fc.tuple(mapping, mapping) })
    .map((m): Mapping[] => [...m]),
  steps: fc.array(fc.tuple(stepArb, fc.nat({ max: 1 })), { minLength: 1, maxLength: 7 }),
});

const memberInput = (s: { user?: string; device?: string; props?: Record<string, unknown> }): MemberInput => ({
  ...(s.user !== undefined ? { user_id: s.user } : {}),
  ...(s.device !== undefined ? { device_id: s.device } : {}),
  ...(s.props ? { properties: s.props } : {}),
});

describe.each(ENGINES)('planner on $name', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(engine);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('applying every plan to the acknowledged set yields the desired set', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ syncs: mappings, steps }) => {
        const project = await projectWithBraze(h.deps);
        const dataImportKey = h.sandbox.state.createWorkspace();
        const cohort = await createStaticCohort(h.deps, project.id, { name: 'Property' });
        const side = await createStaticCohort(h.deps, project.id, { name: 'Side' });
        const syncs: Sync[] = [];
        for (const [i, m] of mappings.entries()) {
          // Same endpoint and key: the syncs share one Braze cohort, which must hold the union.
          const target = await createTarget(h.deps, project.id, {
            name: `t${i}`,
            endpoint: h.sandbox.url,
            dataImportKey,
            mapping: m,
          });
          const sync = await createSync(h.deps, project.id, {
            cohortId: cohort.id,
            targetId: target.id,
            cadence: 'one_time',
          });
          expect((await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id)).status).toBe(
            'succeeded',
          );
          syncs.push(sync);
        }
        const brazeCohortId = syncs[0]!.brazeCohortRef;
        let acked = await ackedKeys(h.store, brazeCohortId);
        expect(acked).toEqual([]);

        const paused = new Set<number>();
        for (const [s, which] of steps) {
          if (s.op === 'toggle-pause') {
            const i = s.sync % syncs.length;
            if (paused.has(i)) paused.delete(i);
            else paused.add(i);
            await h.store.syncs.update(project.id, syncs[i]!.id, { paused: paused.has(i) }, new Date().toISOString());
          } else if (s.op === 'replace') {
            const rows = (async function* () {
              for (const [line, m] of s.members.entries()) yield { line: line + 2, raw: memberInput(m) };
            })();
            await replaceMembers(h.deps, project.id, cohort.id, rows);
          } else if (s.op === 'identify') {
            const before = await h.store.membership.findProfile(project.id, { deviceId: s.device });
            const userFree = (await h.store.membership.findProfile(project.id, { userId: s.user })) === undefined;
            await changeMembers(h.deps, project.id, side.id, { add: [{ user_id: s.user, device_id: s.device }] });
            if (before && before.userId === null && userFree) {
              // A device-only profile named with a new user_id is that same profile, now identified.
              expect(await h.store.membership.findProfile(project.id, { userId: s.user })).toMatchObject({
                id: before.id,
                userId: s.user,
              });
            }
          } else {
            await changeMembers(h.deps, project.id, s.cohort === 'main' ? cohort.id : side.id, {
              [s.op]: [memberInput(s)],
            });
          }

          // Run one of the unpaused syncs (a run covers the whole Braze cohort); all paused: nothing runs.
          const runnable = syncs.filter((_, i) => !paused.has(i));
          const sync = runnable[which % Math.max(1, runnable.length)];
          if (!sync) continue;
          const run = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id)).id);
          expect(run).toMatchObject({ status: 'succeeded', counts: { failed: 0 } });

          const members = await allMembers(h.store, cohort.id);
          const wantedByActive = desiredKeys(
            members,
            mappings.filter((_, i) => !paused.has(i)),
          );
          const wantedByAny = desiredKeys(members, mappings);
          // Paused syncs add nothing but keep what they still want: acked' = (acked ∩ wanted by any) ∪ wanted by active.
          const desired = [...new Set([...acked.filter((k) => wantedByAny.includes(k)), ...wantedByActive])].sort();
          // The plan itself: adds only what is not acknowledged, removes only what is, and together they
          // turn the acknowledged set into the desired one.
          const batches = await h.store.planning.runBatches(run.id, 0, 100);
          const adds = batches.flatMap((b) => b.batch.add.map((i) => i.key));
          const removes = batches.flatMap((b) => b.batch.remove.map((i) => i.key));
          expect(adds.filter((k) => acked.includes(k))).toEqual([]);
          expect(minus(removes, acked)).toEqual([]);
          expect([...minus(acked, removes), ...adds].sort()).toEqual(desired);
          expect(run.identifiers).toEqual({ added: adds.length, removed: removes.length });
          // Counts are users: each added (removed) identifier's profile once.
          const users = (keys: readonly { profileId: number | null; key: string }[]) =>
            new Set(keys.map((i) => i.profileId ?? i.key)).size;
          expect(run.counts).toMatchObject({
            added: users(batches.flatMap((b) => b.batch.add)),
            removed: users(batches.flatMap((b) => b.batch.remove)),
          });

          acked = await ackedKeys(h.store, brazeCohortId);
          expect(acked).toEqual(desired);
          expect(sandboxKeys(h.sandbox, dataImportKey, cohort.id)).toEqual(desired);
          if (paused.size === 0) expect(acked).toEqual(wantedByAny);
        }
      }),
      {
        numRuns: Number(process.env.PLANNER_RUNS ?? 20),
        examples: [
          // The recipe: pausing the device sync keeps its device ids while the user_id sync runs.
          [
            {
              syncs: [{ type: 'device_id' }, { type: 'user_id' }],
              steps: [
                [{ op: 'add', cohort: 'main', user: 'U0', device: 'D0' }, 0],
                [{ op: 'toggle-pause', sync: 0 }, 0],
                [{ op: 'add', cohort: 'main', device: 'D1' }, 0],
              ],
            },
          ],
          // A device-only member identified with a new user_id; then one merged into an existing identified user.
          [
            {
              syncs: [{ type: 'user_id' }],
              steps: [
                [{ op: 'add', cohort: 'main', device: 'D1' }, 0],
                [{ op: 'identify', user: 'U1', device: 'D1' }, 0],
              ],
            },
          ],
          [
            {
              syncs: [{ type: 'device_id' }],
              steps: [
                [{ op: 'add', cohort: 'side', user: 'U0' }, 0],
                [{ op: 'add', cohort: 'main', device: 'D0' }, 0],
                [{ op: 'identify', user: 'U0', device: 'D0' }, 0],
              ],
            },
          ],
          // An alias on a property whose value changes, then a CSV replace.
          [
            {
              syncs: [{ type: 'user_alias', aliasLabel: 'crm', aliasProperty: 'crm_id' }],
              steps: [
                [{ op: 'add', cohort: 'main', user: 'U0', props: { crm_id: 1e21 } }, 0],
                [{ op: 'add', cohort: 'side', user: 'U0', props: { crm_id: 'C-1' } }, 0],
                [{ op: 'replace', members: [{ device: 'D2' }] }, 0],
              ],
            },
          ],
        ],
      },
    );
  });

  it('SQL resolution (stageDesired, recordSkips) agrees with the domain resolveIdentifiers', async () => {
    const profile = fc.record({
      user: fc.option(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((s) => !s.includes('\u0000')),
        { nil: undefined },
      ),
      devices: fc.array(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((s) => !s.includes('\u0000')),
        { maxLength: 3 },
      ),
      props,
    });
    const input = fc.record({
      profiles: fc.array(profile, { maxLength: 8 }),
      syncs: fc.array(fc.record({ mapping, active: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(input, async ({ profiles, syncs }) => {
        const project = await projectWithBraze(h.deps);
        const cohort = await createStaticCohort(h.deps, project.id, { name: 'SQL' });
        const members: MemberInput[] = [];
        profiles.forEach((p, i) => {
          // Ids made unique per profile; their random tails keep case, spaces and any unicode.
          const user = p.user === undefined ? undefined : `u${i}:${p.user}`;
          // An anonymous profile is named by exactly one device (a second one would be a second profile).
          const devices = (user === undefined ? [p.devices[0] ?? 'x'] : p.devices).map((d, j) => `d${i}.${j}:${d}`);
          members.push({
            ...(user !== undefined ? { user_id: user } : {}),
            ...(devices[0] !== undefined ? { device_id: devices[0] } : {}),
            properties: p.props,
          });
          for (const d of devices.slice(1)) members.push({ user_id: user!, device_id: d });
        });
        if (members.length > 0)
          await h.store.membership.applyMembers(project.id, cohort.id, 'add', members, new Date().toISOString());
        const stored = await allMembers(h.store, cohort.id);
        expect(stored).toHaveLength(profiles.length);

        const runId = `prop-sql-${n++}`;
        const inputs = syncs.map((s) => ({ mapping: s.mapping, cohortId: cohort.id, active: s.active }));
        await h.store.planning.stageDesired(runId, inputs);
        const rows = await h.store.raw.db
          .selectFrom('plan_desired')
          .select(['ident_key', 'profile_id', 'active'])
          .where('run_id', '=', runId)
          .execute();

        const wantedActive = desiredKeys(
          stored,
          syncs.filter((s) => s.active).map((s) => s.mapping),
        );
        const wantedAll = desiredKeys(
          stored,
          syncs.map((s) => s.mapping),
        );
        expect(rows.map((r) => r.ident_key).sort()).toEqual(wantedAll);
        expect(
          rows
            .filter((r) => Number(r.active) === 1)
            .map((r) => r.ident_key)
            .sort(),
        ).toEqual(wantedActive);
        // Each identifier is attributed to a profile the domain gives it to.
        for (const r of rows) {
          const owners = stored.filter((m) =>
            syncs.some((s) => {
              const res = resolveIdentifiers(m, s.mapping);
              return res.ok && res.identifiers.some((id) => identifierKey(id) === r.ident_key);
            }),
          );
          expect(owners.map((o) => o.id)).toContain(r.profile_id);
        }

        const active = syncs.filter((s) => s.active);
        const skips = await h.store.planning.recordSkips(runId, inputs, 1000);
        const unreached = stored.filter((m) => active.every((s) => !resolveIdentifiers(m, s.mapping).ok));
        if (active.length === 0 || unreached.length === 0) expect(skips).toEqual({});
        else {
          const first = resolveIdentifiers(unreached[0]!, active[0]!.mapping);
          expect(first.ok).toBe(false);
          expect(skips).toEqual({ [first.ok ? '' : first.reason]: unreached.length });
          expect((await h.store.planning.runSkips(runId, 0, 100)).map((s) => s.profileId).sort()).toEqual(
            unreached.map((m) => m.id).sort(),
          );
        }
        await h.store.planning.clearBatches(runId);
      }),
      { numRuns: Number(process.env.SQL_RUNS ?? 60) },
    );
  });
});
