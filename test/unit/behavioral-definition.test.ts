// The domain reading of behavioral definitions: defaults, every bad node by path, windows, reference order,
// and the plain-English text.
import { describe, expect, it } from 'vitest';
import {
  checkReferences,
  dependentsOf,
  describeDefinition,
  evaluationOrder,
  type KnownCohort,
  longestWindowMs,
  onlyJoinsWithEvents,
  parseDefinition,
  propertyPasses,
  windowStartMs,
} from '../../src/domain/behavioral.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const ctx = { retentionDays: 400, nowMs: NOW };
const DAY = 86_400_000;

const parse = (raw: unknown) => {
  const r = parseDefinition(raw, ctx);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.definition;
};

describe('behavioral definitions', () => {
  it('fills defaults: count at least once, every retained event, groups not negated', () => {
    expect(parse({ all: [{ any: [{ event: 'Open' }] }] })).toEqual({
      all: [{ not: false, any: [{ event: 'Open', where: [], count: { op: 'gte', value: 1 }, within: null }] }],
    });
  });

  it('reports every bad node by its JSON path', () => {
    const r = parseDefinition(
      {
        all: [
          { any: [] },
          {
            any: [
              { event: '', within: { last: 0, unit: 'week' } },
              { userProperty: 'a"b', op: 'contains', value: 3 },
              { event: 'X', userProperty: 'y' },
              { inCohort: 'c', op: 'eq' },
              { event: 'Y', within: { since: '2020-01-01' } },
            ],
          },
        ],
        extra: true,
      },
      ctx,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toEqual([
      'definition.extra',
      'definition.all[0].any',
      'definition.all[1].any[0].event',
      'definition.all[1].any[0].within.last',
      'definition.all[1].any[0].within.unit',
      'definition.all[1].any[1].userProperty',
      'definition.all[1].any[1].value',
      'definition.all[1].any[2]',
      'definition.all[1].any[3].op',
      'definition.all[1].any[4].within.since',
    ]);
    expect(parseDefinition([], ctx)).toEqual({
      ok: false,
      problems: [{ path: 'definition', message: 'a definition is {"all": [groups]}' }],
    });
  });

  it('reads windows: rolling, since a date, retention', () => {
    const d = parse({
      all: [
        {
          any: [
            { event: 'A', within: { last: 3, unit: 'hour' } },
            { event: 'B', within: { since: '2026-05-01T00:00:00Z' } },
            { event: 'C' },
          ],
        },
      ],
    });
    const [a, b, c] = d.all[0]!.any as Parameters<typeof windowStartMs>[0][];
    expect(windowStartMs(a!, NOW, 400)).toBe(NOW - 3 * 3_600_000);
    expect(windowStartMs(b!, NOW, 400)).toBe(Date.parse('2026-05-01T00:00:00Z'));
    expect(windowStartMs(c!, NOW, 400)).toBe(NOW - 400 * DAY);
    expect(longestWindowMs(d, NOW, 400)).toBe(400 * DAY);
  });

  it('compares properties as typed JSON scalars', () => {
    expect(propertyPasses(5, { op: 'eq', value: 5 })).toBe(true);
    expect(propertyPasses('5', { op: 'eq', value: 5 })).toBe(false);
    expect(propertyPasses(undefined, { op: 'neq', value: 5 })).toBe(true);
    expect(propertyPasses('b', { op: 'gt', value: 'a' })).toBe(true);
    expect(propertyPasses('é', { op: 'gt', value: 'z' })).toBe(true); // byte order, not locale order
    expect(propertyPasses(null, { op: 'set' })).toBe(false);
    expect(propertyPasses(true, { op: 'in', value: [1, true] })).toBe(true);
  });

  it('finds cycles and orders cohorts after the cohorts they read', () => {
    const a: KnownCohort = { id: 'a', definition: null };
    const b: KnownCohort = { id: 'b', definition: parse({ all: [{ any: [{ inCohort: 'a' }] }] }) };
    const c: KnownCohort = { id: 'c', definition: parse({ all: [{ any: [{ inCohort: 'b' }] }] }) };
    const known = new Map([a, b, c].map((x) => [x.id, x]));
    expect(evaluationOrder([c, b, a]).map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(dependentsOf('a', [a, b, c]).map((x) => x.id)).toEqual(['b', 'c']);
    const back = parse({ all: [{ any: [{ inCohort: 'c' }] }] });
    expect(checkReferences('b', back, known)[0]?.message).toMatch(/cycle/);
    expect(checkReferences('a', back, known)).toHaveLength(1);
    expect(checkReferences(null, back, known)).toEqual([]);
  });

  it('reads a definition in plain English', () => {
    expect(
      describeDefinition(
        parse({
          all: [
            {
              any: [
                {
                  event: 'Purchase',
                  where: [{ property: 'plan', op: 'eq', value: 'pro' }],
                  count: { op: 'gte', value: 2 },
                  within: { last: 30, unit: 'day' },
                },
                { userProperty: 'vip', op: 'set' },
              ],
            },
            { not: true, any: [{ event: 'Refund', within: { last: 1, unit: 'day' } }] },
          ],
        }),
      ),
    ).toBe(
      'Users who (performed Purchase where plan is "pro" at least 2 times in the last 30 days or user property vip is set) and did not perform Refund in the last day',
    );
  });
  it('knows the definitions that new events can only make a profile join', () => {
    const bought = parse({ all: [{ any: [{ event: 'Purchase', count: { op: 'gte', value: 2 } }] }] });
    const none: (id: string) => undefined = () => undefined;
    expect(onlyJoinsWithEvents(bought, none)).toBe(true);
    // User properties do not move with events, negated or not.
    expect(
      onlyJoinsWithEvents(
        parse({
          all: [
            {
              any: [
                { event: 'View', count: { op: 'gt', value: 0 } },
                { userProperty: 'vip', op: 'set' },
              ],
            },
            { not: true, any: [{ userProperty: 'plan', op: 'eq', value: 'free' }] },
          ],
        }),
        none,
      ),
    ).toBe(true);
    // A count that more events can fail, or an event condition in a negated group, can make a member leave.
    for (const op of ['eq', 'neq', 'lt', 'lte'])
      expect(onlyJoinsWithEvents(parse({ all: [{ any: [{ event: 'View', count: { op, value: 2 } }] }] }), none)).toBe(
        false,
      );
    expect(onlyJoinsWithEvents(parse({ all: [{ not: true, any: [{ event: 'Refund' }] }] }), none)).toBe(false);
    // inCohort: only of a behavioral cohort that itself only grows with events, and not negated.
    const reads = (not: boolean) => parse({ all: [{ not, any: [{ inCohort: 'c1' }] }] });
    const leaves = parse({ all: [{ any: [{ event: 'View', count: { op: 'lt', value: 2 } }] }] });
    expect(onlyJoinsWithEvents(reads(false), (id) => (id === 'c1' ? bought : undefined))).toBe(true);
    expect(onlyJoinsWithEvents(reads(true), (id) => (id === 'c1' ? bought : undefined))).toBe(false);
    expect(onlyJoinsWithEvents(reads(false), (id) => (id === 'c1' ? leaves : undefined))).toBe(false);
    expect(onlyJoinsWithEvents(reads(false), () => null)).toBe(false); // a static cohort
  });
});
