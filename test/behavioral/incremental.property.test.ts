// Incremental evaluation must always agree with full evaluation (docs/cohorts.md). Random event streams,
// identify calls, clock moves and definitions (two cohorts, the second may read the first through
// inCohort) are played through the real listener and sweeper on a real store; after each sweep, a full
// evaluation must change nothing, and both must equal what the domain's own reading of the definition
// says about every profile (an oracle computed in memory from the same events).
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BehavioralEvaluator, evaluateCohorts } from '../../src/app/behavioral.ts';
import { createCohort } from '../../src/app/cohort-admin.ts';
import {
  type Definition,
  definitionHolds,
  isEvent,
  parseDefinition,
  propertyPasses,
  windowStartMs,
} from '../../src/domain/behavioral.ts';
import { type BehavioralWorld, behavioralWorld, T0 } from '../support/behavioral.ts';
import { ENGINES } from '../support/engines.ts';
import { projectWithBraze } from '../support/flows.ts';

const MIN = 60_000;
const RETENTION_DAYS = 1;
const USERS = 4;
const TYPES = ['A', 'B'] as const;

const value = fc.constantFrom<unknown>(1, 2, 3, '3', 'x', true);
const props = fc.dictionary(fc.constantFrom('plan', 'age', 'v'), fc.oneof(value, fc.constantFrom('pro', 'free')), {
  maxKeys: 3,
});
const filter = fc.oneof(
  fc.record({
    property: fc.constant('v'),
    op: fc.constantFrom('eq', 'neq', 'gt', 'lte'),
    value: fc.constantFrom(1, 2, 'x'),
  }),
  fc.record({ property: fc.constant('v'), op: fc.constantFrom('set', 'not_set') }),
  fc.record({ property: fc.constant('v'), op: fc.constant('in'), value: fc.constant([1, 'x', true]) }),
);
const within = fc.oneof(
  fc.record({ last: fc.integer({ min: 1, max: 10 }), unit: fc.constant('minute') }),
  fc.constant({ since: new Date(T0 - 5 * MIN).toISOString() }),
  fc.constant(undefined),
);
const eventCondition = fc.record(
  {
    event: fc.constantFrom(...TYPES),
    where: fc.array(filter, { maxLength: 1 }),
    count: fc.record({
      op: fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte'),
      value: fc.integer({ min: 0, max: 3 }),
    }),
    within,
  },
  { requiredKeys: ['event'] },
);
const userCondition = fc.oneof(
  fc.record({ userProperty: fc.constant('plan'), op: fc.constantFrom('eq', 'neq'), value: fc.constant('pro') }),
  fc.record({ userProperty: fc.constant('age'), op: fc.constantFrom('gte', 'lt'), value: fc.constantFrom(2, '3') }),
  fc.record({ userProperty: fc.constantFrom('plan', 'age'), op: fc.constantFrom('set', 'not_set') }),
  fc.record({ userProperty: fc.constant('plan'), op: fc.constant('contains'), value: fc.constant('r') }),
);
const definition = (condition: fc.Arbitrary<unknown>) =>
  fc.record({
    all: fc.array(fc.record({ not: fc.boolean(), any: fc.array(condition, { minLength: 1, maxLength: 2 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
  });
const READS_FIRST = { inCohort: '$first' };

type Step =
  | { kind: 'event'; user: number; type: string; offsetMin: number; v: unknown }
  | { kind: 'identify'; user: number; props: Record<string, unknown> }
  | { kind: 'advance'; seconds: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      user: fc.nat(USERS - 1),
      type: fc.constantFrom(...TYPES),
      offsetMin: fc.integer({ min: -6, max: 1 }),
      v: value,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('identify' as const), user: fc.nat(USERS - 1), props }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      seconds: fc.oneof(fc.constantFrom(30, 60, 120), fc.integer({ min: 1, max: 240 })),
    }),
  },
);

interface StoredEvent {
  profile: number;
  type: string;
  timeMs: number;
  props: Record<string, unknown>;
}

describe.each(ENGINES)('incremental ≡ full evaluation on $name', (engine) => {
  let w: BehavioralWorld;
  beforeAll(async () => {
    w = await behavioralWorld(engine, { eventRetentionDays: RETENTION_DAYS });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('agree after every sweep, and match the domain reading of the definition', async () => {
    await fc.assert(
      fc.asyncProperty(
        definition(fc.oneof(eventCondition, userCondition)),
        definition(fc.oneof({ weight: 3, arbitrary: eventCondition }, userCondition, fc.constant(READS_FIRST))),
        fc.array(props, { minLength: USERS, maxLength: USERS }),
        fc.array(step, { minLength: 4, maxLength: 16 }),
        fc.boolean(),
        async (rawFirst, rawSecondTemplate, initialProps, steps, detailed) => {
          w.clock.set(new Date(T0));
          const deps = w.deps;
          const db = w.store.raw.db;
          const project = await projectWithBraze(deps);
          const evaluator = new BehavioralEvaluator(deps, async () => undefined);
          const profiles: number[] = [];
          const properties: Record<string, unknown>[] = [];
          for (let i = 0; i < USERS; i++) {
            const now = new Date(T0).toISOString();
            const row = await db
              .insertInto('profiles')
              .values({
                project_id: project.id,
                user_id: `u${i}`,
                properties: JSON.stringify(initialProps[i]),
                created_at: now,
                updated_at: now,
              })
              .returning('id')
              .executeTakeFirstOrThrow();
            profiles.push(row.id);
            properties.push(initialProps[i]!);
          }
          const events: StoredEvent[] = [];
          const first = await createCohort(deps, project.id, {
            name: 'first',
            type: 'behavioral',
            definition: rawFirst,
          });
          const rawSecond = JSON.parse(
            JSON.stringify(rawSecondTemplate).replaceAll('"$first"', JSON.stringify(first.id)),
          );
          const second = await createCohort(deps, project.id, {
            name: 'second',
            type: 'behavioral',
            definition: rawSecond,
          });
          const parse = (raw: unknown): Definition => {
            const p = parseDefinition(raw, { retentionDays: RETENTION_DAYS, nowMs: T0 });
            if (!p.ok) throw new Error(JSON.stringify(p.problems));
            return p.definition;
          };
          const defs = [parse(rawFirst), parse(rawSecond)] as const;

          const members = async (cohortId: string) =>
            (
              await db
                .selectFrom('cohort_members')
                .select('profile_id')
                .where('cohort_id', '=', cohortId)
                .orderBy('profile_id')
                .execute()
            ).map((r) => r.profile_id);
          const oracle = () => {
            const nowMs = w.clock.now().getTime();
            const decide = (def: Definition, firstSet: Set<number>) =>
              profiles.filter((pid, i) =>
                definitionHolds(def, {
                  properties: properties[i]!,
                  inCohort: (id) => id === first.id && firstSet.has(pid),
                  eventCount: (gi, ci) => {
                    const c = def.all[gi]!.any[ci]!;
                    if (!isEvent(c)) return 0;
                    const start = windowStartMs(c, nowMs, RETENTION_DAYS);
                    return events.filter(
                      (e) =>
                        e.profile === pid &&
                        e.type === c.event &&
                        e.timeMs >= start &&
                        c.where.every((f) => propertyPasses(e.props[f.property], f)),
                    ).length;
                  },
                }),
              );
            const a = decide(defs[0], new Set());
            return [a, decide(defs[1], new Set(a))];
          };
          const check = async () => {
            await evaluator.sweep();
            const incremental = [await members(first.id), await members(second.id)];
            expect(incremental).toEqual(oracle());
            const full = await evaluateCohorts(deps, project.id, [first.id, second.id]);
            expect(full).toEqual([]); // a full evaluation found nothing to change
            const sizes = await db
              .selectFrom('cohorts')
              .select(['id', 'size'])
              .where('project_id', '=', project.id)
              .execute();
            for (const c of sizes) expect(c.size).toBe((await members(c.id)).length);
          };

          await check();
          for (const s of steps) {
            if (s.kind === 'advance') {
              w.clock.advance(s.seconds * 1000);
              await check();
              continue;
            }
            const i = s.user;
            if (s.kind === 'event') {
              const e: StoredEvent = {
                profile: profiles[i]!,
                type: s.type,
                timeMs: w.clock.now().getTime() + s.offsetMin * MIN,
                props: { v: s.v },
              };
              events.push(e);
              await sql`insert into events (project_id, profile_id, event_type, time_ms, event_properties, data, received_ms)
                values (${project.id}, ${e.profile}, ${e.type}, ${e.timeMs}, ${JSON.stringify(e.props)}, '{}', ${e.timeMs})`.execute(
                db,
              );
            } else {
              properties[i] = s.props;
              await db
                .updateTable('profiles')
                .set({ properties: JSON.stringify(s.props) })
                .where('id', '=', profiles[i]!)
                .execute();
            }
            // As ingestion reports it: the events stored by profile (type and properties) and the profiles whose
            // properties changed — or, as a listener told less would hear it, only the event types.
            const profileIds = [profiles[i]!];
            evaluator.onIngested(
              detailed
                ? {
                    projectId: project.id,
                    profileIds,
                    events:
                      s.kind === 'event'
                        ? [{ profileId: profiles[i]!, eventType: s.type, eventProperties: { v: s.v } }]
                        : [],
                    propertyProfiles: s.kind === 'identify' ? profileIds : [],
                    identityProfiles: [],
                  }
                : {
                    projectId: project.id,
                    profileIds,
                    eventTypes: s.kind === 'event' ? [s.type] : [],
                    propertiesChanged: s.kind === 'identify',
                  },
            );
            await evaluator.idle();
          }
          w.clock.advance(61_000);
          await check();
        },
      ),
      { numRuns: engine.name === 'postgres' ? 12 : 40, seed: Number(process.env.FC_SEED ?? Date.now() % 100_000) },
    );
  });
});
