// Random planner scenarios shared by the planner property tests (test/integration/planner*.property.test.ts):
// mappings with fallbacks, and steps of membership, identity, property, CSV-replace and pause changes over a
// small pool of ids, so that steps collide: the same people join, leave, get identified, share devices.
import fc from 'fast-check';
import { expect } from 'vitest';
import { changeMembers, createStaticCohort, replaceMembers } from '../../src/app/cohorts.ts';
import { createSync } from '../../src/app/syncs.ts';
import { createTarget } from '../../src/app/targets.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import type { Cadence, MemberInput, Sync } from '../../src/domain/model.ts';
import { firstRunOf, projectWithBraze, waitForRun } from './flows.ts';
import type { Harness } from './harness.ts';

// ---- generators ---------------------------------------------------------------------------------------

export const PROPS = ['crm_id', 'plan', 'a.b', 'with space', 'q"uote'] as const;

/** Values a JSON user property can take (no NaN/Infinity: they do not survive JSON). */
export const propValue = fc.oneof(
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
export const props = fc.dictionary(fc.constantFrom(...PROPS), propValue, { maxKeys: 3 });

const label = fc.constantFrom('crm', 'Label 2', 'lbl');
export const step: fc.Arbitrary<Mapping> = fc.oneof(
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
export const mapping: fc.Arbitrary<Mapping> = fc
  .tuple(step, fc.array(fc.tuple(step, fc.array(step, { maxLength: 1 })), { maxLength: 2 }))
  .map(([primary, fallbacks]) =>
    fallbacks.length === 0
      ? primary
      : { ...primary, fallbacks: fallbacks.map(([m, f]) => (f.length > 0 ? { ...m, fallbacks: f } : m)) },
  );

// A small pool of ids so that steps collide: the same people join, leave, get identified, share devices.
const USERS = ['U0', 'U1', 'u1', 'U 3'] as const;
const DEVICES = ['D0', 'D1', 'D2', 'D3'] as const;

export type Step =
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

export const stepArb: fc.Arbitrary<Step> = fc
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

export const memberInput = (s: { user?: string; device?: string; props?: Record<string, unknown> }): MemberInput => ({
  ...(s.user !== undefined ? { user_id: s.user } : {}),
  ...(s.device !== undefined ? { device_id: s.device } : {}),
  ...(s.props ? { properties: s.props } : {}),
});

/** Where steps apply: the project, the synced cohort, a side cohort, the syncs and which of them are paused. */
export interface ScenarioWorld {
  readonly projectId: string;
  readonly cohortId: string;
  readonly sideId: string;
  readonly syncs: readonly Sync[];
  readonly paused: Set<number>;
}

/**
 * A project with a synced cohort and a side cohort, and one sync per mapping, all into one Braze workspace (same
 * endpoint and key: the syncs share one Braze cohort, which must hold the union), each first run delivered.
 */
export async function scenarioWorld(
  h: Harness,
  mappings: readonly Mapping[],
  cadence: Cadence,
): Promise<ScenarioWorld & { dataImportKey: string }> {
  const project = await projectWithBraze(h.deps);
  const dataImportKey = h.sandbox.state.createWorkspace();
  const cohort = await createStaticCohort(h.deps, project.id, { name: 'Property' });
  const side = await createStaticCohort(h.deps, project.id, { name: 'Side' });
  const syncs: Sync[] = [];
  for (const [i, m] of mappings.entries()) {
    const target = await createTarget(h.deps, project.id, {
      name: `t${i}`,
      endpoint: h.sandbox.url,
      dataImportKey,
      mapping: m,
    });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence });
    expect((await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id)).status).toBe('succeeded');
    syncs.push(sync);
  }
  return { projectId: project.id, cohortId: cohort.id, sideId: side.id, syncs, paused: new Set(), dataImportKey };
}

/** Applies one step through the app (pauses through the store, so that no resume run is requested). */
export async function applyStep(h: Harness, w: ScenarioWorld, s: Step): Promise<void> {
  const { projectId, syncs, paused } = w;
  if (s.op === 'toggle-pause') {
    const i = s.sync % syncs.length;
    if (paused.has(i)) paused.delete(i);
    else paused.add(i);
    await h.store.syncs.update(projectId, syncs[i]!.id, { paused: paused.has(i) }, new Date().toISOString());
  } else if (s.op === 'replace') {
    const rows = (async function* () {
      for (const [line, m] of s.members.entries()) yield { line: line + 2, raw: memberInput(m) };
    })();
    await replaceMembers(h.deps, projectId, w.cohortId, rows);
  } else if (s.op === 'identify') {
    const before = await h.store.membership.findProfile(projectId, { deviceId: s.device });
    const userFree = (await h.store.membership.findProfile(projectId, { userId: s.user })) === undefined;
    await changeMembers(h.deps, projectId, w.sideId, { add: [{ user_id: s.user, device_id: s.device }] });
    if (before && before.userId === null && userFree) {
      // A device-only profile named with a new user_id is that same profile, now identified.
      expect(await h.store.membership.findProfile(projectId, { userId: s.user })).toMatchObject({
        id: before.id,
        userId: s.user,
      });
    }
  } else {
    await changeMembers(h.deps, projectId, s.cohort === 'main' ? w.cohortId : w.sideId, {
      [s.op]: [memberInput(s)],
    });
  }
}
