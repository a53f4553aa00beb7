// Property tests of the planner against the real store and the Braze sandbox (GitHub issue 2).
// 1. Random membership, identity and property changes (incl. CSV replaces and pausing one of two syncs that
//    share a Braze cohort), each followed by a real sync run: applying every plan to the acknowledged set
//    yields the desired set — the store's acknowledged identifiers and the sandbox's received ones equal what
//    the domain's resolveIdentifiers gives the current members (paused syncs: keep what they still want).
// 2. The store's SQL resolution (mapping-sql.ts, through stageDesired/recordSkips) agrees with the domain.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticCohort } from '../../src/app/cohorts.ts';
import { runNow } from '../../src/app/syncs.ts';
import { identifierKey } from '../../src/domain/identifiers.ts';
import { type Mapping, resolveIdentifiers } from '../../src/domain/mapping.ts';
import type { MemberInput } from '../../src/domain/model.ts';
import { ENGINES } from '../support/engines.ts';
import { projectWithBraze, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { applyStep, mapping, props, scenarioWorld, stepArb } from '../support/planner-scenarios.ts';
import { ackedKeys, allMembers, desiredKeys, minus, sandboxKeys } from '../support/sync-checks.ts';

const scenario = fc.record({
  // Usually two syncs sharing the Braze cohort (the recipe), so that unions and pauses matter.
  syncs: fc
    .oneof({ weight: 1, arbitrary: fc.tuple(mapping) }, { weight: 3, arbitrary: fc.tuple(mapping, mapping) })
    .map((m): Mapping[] => [...m]),
  steps: fc.array(fc.tuple(stepArb, fc.nat({ max: 1 })), { minLength: 1, maxLength: 7 }),
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
        const world = await scenarioWorld(h, mappings, 'one_time');
        const { dataImportKey, syncs } = world;
        const project = { id: world.projectId };
        const cohort = { id: world.cohortId };
        const brazeCohortId = syncs[0]!.audienceRef;
        let acked = await ackedKeys(h.store, brazeCohortId);
        expect(acked).toEqual([]);

        const { paused } = world;
        for (const [s, which] of steps) {
          await applyStep(h, world, s);
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
