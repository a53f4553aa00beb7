// Planning from the change log is a full plan (src/app/incremental.ts), on both engines: random membership,
// identity, property, CSV-replace and pause streams over two syncs sharing a Braze cohort. After every step,
// the plan the next run would make from the changes — a scheduled run's and a real-time run's — is compared
// with a full re-staged plan of the same state, key by key; then a real run delivers (as a scheduled or a
// real-time run) and Braze's acknowledged state must be what the domain says the members want.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginPlan } from '../../src/app/incremental.ts';
import { requestRun, runNow } from '../../src/app/syncs.ts';
import type { PlannedIdentifier } from '../../src/domain/batching.ts';
import { incrementalIsExact, planBasis } from '../../src/domain/incremental.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import type { Run, RunMode, Sync } from '../../src/domain/model.ts';
import { ENGINES } from '../support/engines.ts';
import { waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { applyStep, mapping, scenarioWorld, stepArb } from '../support/planner-scenarios.ts';
import { ackedKeys, allMembers, desiredKeys } from '../support/sync-checks.ts';

// Mostly mappings a plan from the changes is exact for, so that it is the plan actually compared.
const exactMapping = mapping.filter(incrementalIsExact);
const anyMapping = fc.oneof({ weight: 4, arbitrary: exactMapping }, { weight: 1, arbitrary: mapping });

const scenario = fc.record({
  syncs: fc
    .oneof({ weight: 1, arbitrary: fc.tuple(anyMapping) }, { weight: 3, arbitrary: fc.tuple(anyMapping, anyMapping) })
    .map((m): Mapping[] => [...m]),
  // Each step is followed by a run: of which unpaused sync, and whether scheduled (full mode) or real-time.
  steps: fc.array(fc.tuple(stepArb, fc.nat({ max: 1 }), fc.constantFrom<RunMode>('full', 'full', 'incremental')), {
    minLength: 1,
    maxLength: 8,
  }),
});

type Delta = { adds: string[]; removes: string[] };

async function drain(read: (after: string | null) => Promise<PlannedIdentifier[]>): Promise<string[]> {
  const keys: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await read(after);
    keys.push(...page.map((i) => i.key));
    if (page.length < 2) return keys;
    after = page[page.length - 1]!.key;
  }
}

describe.each(ENGINES)('planning from the changes on $name', (engine) => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness(engine);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The Braze cohort's plan inputs as the executor builds them (src/app/run-executor.ts planInputs). */
  async function planInputs(syncs: readonly Sync[], paused: ReadonlySet<number>) {
    const inputs = [];
    const bySync = [];
    for (const [i, s] of syncs.entries()) {
      const target = await h.store.targets.get(s.projectId, s.targetId);
      inputs.push({ mapping: target!.mapping, cohortId: s.cohortId, active: !paused.has(i) });
      bySync.push({ syncId: s.id, mapping: target!.mapping, active: !paused.has(i) });
    }
    const cohort = await h.store.cohorts.get(syncs[0]!.projectId, syncs[0]!.cohortId);
    return { inputs, syncs: bySync, cohortSize: cohort?.size ?? 0 };
  }

  /**
   * What a run of `mode` would plan now, through beginPlan exactly as the executor calls it (pages of 2, so
   * that paging matters), under a throwaway run id; null when it would re-read the whole cohort.
   */
  async function planFromChanges(sync: Sync, plan: Awaited<ReturnType<typeof planInputs>>, mode: RunMode) {
    const run = {
      id: `prop-chg-${n++}`,
      brazeCohortId: sync.audienceRef,
      mode,
      reconcile: false,
    } as Run;
    const { planning } = h.store;
    const start = await beginPlan(planning, run, plan, { now: h.deps.clock.now(), fullReconcileHours: 24 });
    if (!start.fromChanges) return null;
    const delta: Delta = {
      adds: await drain((after) => planning.pageAdds(run.id, sync.audienceRef, after, 2)),
      removes: await drain((after) => planning.pageRemovesFor(run.id, sync.audienceRef, plan.inputs, after, 2)),
    };
    await planning.clearBatches(run.id);
    await planning.clearChangedProfiles(run.id);
    return delta;
  }

  async function planInFull(sync: Sync, plan: Awaited<ReturnType<typeof planInputs>>): Promise<Delta> {
    const runId = `prop-full-${n++}`;
    const { planning } = h.store;
    await planning.stageDesired(runId, plan.inputs);
    const delta: Delta = {
      adds: await drain((after) => planning.pageAdds(runId, sync.audienceRef, after, 2)),
      removes: await drain((after) => planning.pageRemoves(runId, sync.audienceRef, after, 2)),
    };
    await planning.clearBatches(runId);
    return delta;
  }

  it('the plan from the changes equals the full plan, and delivering it yields the desired set', async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ syncs: mappings, steps }) => {
        const world = await scenarioWorld(h, mappings, 'daily');
        const { syncs, paused } = world;
        const project = { id: world.projectId };
        const brazeCohortId = syncs[0]!.audienceRef;
        let acked = await ackedKeys(h.store, brazeCohortId);

        for (const [s, which, mode] of steps) {
          await applyStep(h, world, s);
          const runnable = syncs.filter((_, i) => !paused.has(i));
          const sync = runnable[which % Math.max(1, runnable.length)];
          if (!sync) continue;

          // The same state planned from the changes (as the next run of `mode` would) and in full.
          const plan = await planInputs(syncs, paused);
          const trusted = await h.store.planning.planBasis(brazeCohortId);
          const fromChanges = await planFromChanges(sync, plan, mode);
          const full = await planInFull(sync, plan);
          // A scheduled run plans from the changes only on a trusted basis; a real-time run always may, and is
          // exact when the basis is trusted (otherwise the next scheduled run reconciles in full).
          const onTrustedBasis = trusted.basis !== null && trusted.basis === planBasis(plan.syncs);
          if (fromChanges && (mode === 'full' || onTrustedBasis)) {
            expect(fromChanges.adds).toEqual(full.adds);
            expect(fromChanges.removes).toEqual(full.removes);
            compared += 1;
          }

          // Deliver: a scheduled run (mode full) or a real-time one.
          const requested =
            mode === 'full'
              ? await runNow(h.deps, project.id, sync.id)
              : await requestRun(h.deps, sync, 'real_time', 'incremental');
          const run = await waitForRun(h.deps, requested.id);
          expect(run).toMatchObject({ status: 'succeeded', counts: { failed: 0 } });
          expect(run.plannedFrom).not.toBeNull();
          if (mode === 'full' && fromChanges === null) expect(run.plannedFrom).toBe('cohort');

          const members = await allMembers(h.store, world.cohortId);
          const wantedByActive = desiredKeys(
            members,
            mappings.filter((_, i) => !paused.has(i)),
          );
          const wantedByAny = desiredKeys(members, mappings);
          const after = await ackedKeys(h.store, brazeCohortId);
          if (mode === 'full') {
            // Paused syncs add nothing but keep what they still want.
            expect(after).toEqual(
              [...new Set([...acked.filter((k) => wantedByAny.includes(k)), ...wantedByActive])].sort(),
            );
          } else if (fromChanges && onTrustedBasis) {
            // A real-time run on a trusted basis ends where a full run would.
            expect(after).toEqual(minusPlan(acked, full));
          }
          acked = after;
        }
      }),
      {
        numRuns: Number(process.env.PLANNER_RUNS ?? 12),
        // PLANNER_SEED replays a failure that CI reported (fast-check prints the seed).
        ...(process.env.PLANNER_SEED ? { seed: Number(process.env.PLANNER_SEED) } : {}),
        examples: [
          // Pausing changes what is wanted without a change in the log: the device sync, paused, adds nothing
          // for U1's D1 while the user_id sync's real-time runs go on; resumed, the next scheduled run must
          // re-read the cohort (the real-time runs under other inputs forgot the basis).
          [
            {
              syncs: [{ type: 'device_id' }, { type: 'user_id' }],
              steps: [
                [{ op: 'add', cohort: 'main', user: 'U0', device: 'D0' }, 0, 'full'],
                [{ op: 'toggle-pause', sync: 0 }, 0, 'incremental'],
                [{ op: 'add', cohort: 'main', user: 'U1', device: 'D1' }, 0, 'incremental'],
                [{ op: 'toggle-pause', sync: 0 }, 0, 'full'],
                [{ op: 'remove', cohort: 'main', user: 'U0' }, 0, 'full'],
              ],
            },
          ],
          // An anonymous member identified, then merged: identity changes move identifiers between profiles.
          [
            {
              syncs: [{ type: 'device_id' }],
              steps: [
                [{ op: 'add', cohort: 'side', user: 'U0' }, 0, 'full'],
                [{ op: 'add', cohort: 'main', device: 'D0' }, 0, 'full'],
                [{ op: 'identify', user: 'U0', device: 'D0' }, 0, 'full'],
                [{ op: 'replace', members: [{ device: 'D2' }, { user: 'U1' }] }, 0, 'incremental'],
              ],
            },
          ],
          // A device moves between identified users (a shared device named in a replace): its acknowledged
          // identifier must follow it, or a later change of the old user removes what the new one wants.
          [
            {
              syncs: [{ type: 'device_id' }],
              steps: [
                [{ op: 'replace', members: [{ user: 'U0' }] }, 0, 'full'],
                [{ op: 'identify', user: 'U0', device: 'D3' }, 0, 'full'],
                [{ op: 'replace', members: [{ user: 'u1', device: 'D3' }] }, 0, 'full'],
                [{ op: 'identify', user: 'U0', device: 'D0' }, 0, 'full'],
              ],
            },
          ],
        ],
      },
    );
    // The property compared something: most scenarios plan from the changes after their first run.
    expect(compared).toBeGreaterThan(0);
  }, 240_000);
});

/** The acknowledged set after a plan is applied to it. */
function minusPlan(acked: readonly string[], d: Delta): string[] {
  const removed = new Set(d.removes);
  return [...acked.filter((k) => !removed.has(k)), ...d.adds].sort();
}
