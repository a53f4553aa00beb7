// Property tests of the mapping rules (docs/product.md §3, docs/design.md §3): which Braze identifiers a member gets.
// The expectations are written from the spec, independently of src/domain/mapping.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Identifier, identifierKey, parseIdentifierKey } from '../../src/domain/identifiers.ts';
import {
  type Mapping,
  type MemberIdentity,
  resolveIdentifiers,
  type SkipReason,
  validateMapping,
} from '../../src/domain/mapping.ts';

const PROPERTY_NAMES = ['plan', 'crm_id', 'score', 'vip', 'a.b', 'with space'] as const;

const propertyValue = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constant(''),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.record({ x: fc.integer() }),
);

const member: fc.Arbitrary<MemberIdentity> = fc.record({
  userId: fc.option(fc.string({ minLength: 1, maxLength: 6 }), { nil: null }),
  deviceIds: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 3 }),
  properties: fc.dictionary(fc.constantFrom(...PROPERTY_NAMES), propertyValue, { maxKeys: 4 }),
});

const aliasProperty = fc.option(fc.constantFrom('user_id', ...PROPERTY_NAMES), { nil: undefined });

const singleMapping: fc.Arbitrary<Mapping> = fc.oneof(
  fc.constant<Mapping>({ type: 'user_id' }),
  fc.constant<Mapping>({ type: 'device_id' }),
  fc
    .record({
      label: fc.string({ minLength: 1, maxLength: 5 }).filter((l) => l.trim() !== ''),
      property: aliasProperty,
    })
    .map(
      ({ label, property }): Mapping => ({
        type: 'user_alias',
        aliasLabel: label,
        ...(property !== undefined ? { aliasProperty: property } : {}),
      }),
    ),
);

/** A mapping with fallbacks nested at most `depth` levels (fallbacks may have fallbacks). */
const mappingOfDepth = (depth: number): fc.Arbitrary<Mapping> =>
  depth === 0
    ? singleMapping
    : fc
        .tuple(singleMapping, fc.array(mappingOfDepth(depth - 1), { maxLength: 2 }))
        .map(([m, fallbacks]) => (fallbacks.length > 0 ? { ...m, fallbacks } : m));
const mapping = mappingOfDepth(2);

// ---- the rules, as the spec states them ---------------------------------------------------------------

/** alias_name: user_id by default; otherwise a non-empty string, a number or a boolean property as text. */
function expectedAliasName(m: MemberIdentity, property: string | undefined): string | null {
  if (property === undefined || property === 'user_id') return m.userId;
  const v = m.properties[property];
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number') return `${v}`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return null;
}

/** What one mapping (its fallbacks ignored) gives a member, or null when it gives nothing. */
function expectedOne(m: MemberIdentity, step: Mapping): Identifier[] | null {
  if (step.type === 'user_id') return m.userId === null ? null : [{ kind: 'external_id', value: m.userId }];
  if (step.type === 'device_id') {
    const ids: Identifier[] = m.deviceIds.map((value) => ({ kind: 'device_id', value }));
    if (m.userId !== null) ids.push({ kind: 'external_id', value: m.userId });
    return ids.length === 0 ? null : ids;
  }
  const name = expectedAliasName(m, step.aliasProperty);
  return name === null ? null : [{ kind: 'alias', label: step.aliasLabel ?? '', name }];
}

const REASON: Record<Mapping['type'], SkipReason> = {
  user_id: 'no_user_id',
  device_id: 'no_device_id',
  user_alias: 'no_alias_value',
};

/** The order fallbacks are tried: the mapping, then each fallback with its own fallbacks, in order. */
function tryOrder(m: Mapping): Mapping[] {
  return [m, ...(m.fallbacks ?? []).flatMap(tryOrder)];
}

const keys = (ids: readonly Identifier[]) => ids.map(identifierKey);

describe('mapping resolution rules', () => {
  it('user_id sends the user_id as external_id, and skips members without one', () => {
    fc.assert(
      fc.property(member, (m) => {
        const r = resolveIdentifiers(m, { type: 'user_id' });
        if (m.userId === null) expect(r).toEqual({ ok: false, reason: 'no_user_id' });
        else expect(r).toEqual({ ok: true, via: 'user_id', identifiers: [{ kind: 'external_id', value: m.userId }] });
      }),
    );
  });

  it('device_id sends every device id, plus the external_id of identified members', () => {
    fc.assert(
      fc.property(member, (m) => {
        const r = resolveIdentifiers(m, { type: 'device_id' });
        if (m.userId === null && m.deviceIds.length === 0) {
          expect(r).toEqual({ ok: false, reason: 'no_device_id' });
          return;
        }
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.via).toBe('device_id');
        const got = keys(r.identifiers);
        expect(new Set(got).size).toBe(got.length);
        expect(got.filter((k) => k.startsWith('d:')).sort()).toEqual(m.deviceIds.map((d) => `d:${d}`).sort());
        expect(got.filter((k) => k.startsWith('e:'))).toEqual(m.userId === null ? [] : [`e:${m.userId}`]);
        expect(got.filter((k) => k.startsWith('a:'))).toEqual([]);
      }),
    );
  });

  it('user_alias sends {label, value of the property} (user_id by default), else skips', () => {
    fc.assert(
      fc.property(
        member,
        fc.string({ minLength: 1, maxLength: 5 }).filter((l) => l.trim() !== ''),
        aliasProperty,
        (m, label, property) => {
          const r = resolveIdentifiers(m, {
            type: 'user_alias',
            aliasLabel: label,
            ...(property !== undefined ? { aliasProperty: property } : {}),
          });
          const name = expectedAliasName(m, property);
          if (name === null) expect(r).toEqual({ ok: false, reason: 'no_alias_value' });
          else expect(r).toEqual({ ok: true, via: 'user_alias', identifiers: [{ kind: 'alias', label, name }] });
        },
      ),
    );
  });

  it('alias values: numbers and booleans as text, empty strings and other types give nothing', () => {
    const m = (properties: Record<string, unknown>): MemberIdentity => ({ userId: 'U', deviceIds: [], properties });
    const alias = (p: Record<string, unknown>) =>
      resolveIdentifiers(m(p), { type: 'user_alias', aliasLabel: 'crm', aliasProperty: 'crm_id' });
    expect(alias({ crm_id: 42 })).toMatchObject({ ok: true, identifiers: [{ name: '42' }] });
    expect(alias({ crm_id: 1.5 })).toMatchObject({ ok: true, identifiers: [{ name: '1.5' }] });
    expect(alias({ crm_id: false })).toMatchObject({ ok: true, identifiers: [{ name: 'false' }] });
    expect(alias({ crm_id: 'Abc ' })).toMatchObject({ ok: true, identifiers: [{ name: 'Abc ' }] }); // never trimmed
    for (const nothing of [{ crm_id: '' }, { crm_id: null }, { crm_id: [1] }, { crm_id: { a: 1 } }, {}]) {
      expect(alias(nothing)).toEqual({ ok: false, reason: 'no_alias_value' });
    }
  });

  it('fallbacks are tried in order; the first mapping that yields anything wins; otherwise the primary reason', () => {
    fc.assert(
      fc.property(member, mapping, (m, map) => {
        const r = resolveIdentifiers(m, map);
        const firstYield = tryOrder(map)
          .map((step) => ({ step, ids: expectedOne(m, step) }))
          .find((x) => x.ids !== null);
        if (!firstYield) {
          expect(r).toEqual({ ok: false, reason: REASON[map.type] });
          return;
        }
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.via).toBe(firstYield.step.type);
        expect(keys(r.identifiers).sort()).toEqual(keys(firstYield.ids!).sort());
      }),
      { numRuns: 500 },
    );
  });

  it('a fallback chain reaches identified and anonymous members alike (user_id, then device_id)', () => {
    const chain: Mapping = { type: 'user_id', fallbacks: [{ type: 'device_id' }] };
    expect(resolveIdentifiers({ userId: 'U1', deviceIds: ['D1'], properties: {} }, chain)).toEqual({
      ok: true,
      via: 'user_id',
      identifiers: [{ kind: 'external_id', value: 'U1' }],
    });
    expect(resolveIdentifiers({ userId: null, deviceIds: ['D1'], properties: {} }, chain)).toEqual({
      ok: true,
      via: 'device_id',
      identifiers: [{ kind: 'device_id', value: 'D1' }],
    });
  });

  it('identifier keys round-trip and are distinct for distinct identifiers', () => {
    const ident: fc.Arbitrary<Identifier> = fc.oneof(
      fc.string().map((value): Identifier => ({ kind: 'external_id', value })),
      fc.string().map((value): Identifier => ({ kind: 'device_id', value })),
      // A label is typed into a form and cannot hold the unit separator; a name (a property value) can.
      fc
        .record({ label: fc.string().filter((s) => !s.includes('\u001f')), name: fc.string({ unit: 'binary' }) })
        .map(({ label, name }): Identifier => ({ kind: 'alias', label, name })),
    );
    fc.assert(
      fc.property(ident, ident, (a, b) => {
        expect(parseIdentifierKey(identifierKey(a))).toEqual(a);
        expect(identifierKey(a) === identifierKey(b)).toBe(JSON.stringify(a) === JSON.stringify(b));
      }),
      { numRuns: 500 },
    );
  });

  it('validation: user_alias needs a label, other mappings take none, fallbacks are checked with their path', () => {
    expect(validateMapping({ type: 'user_alias' })).toEqual([
      { path: 'mapping.aliasLabel', message: expect.any(String) },
    ]);
    expect(validateMapping({ type: 'user_alias', aliasLabel: '  ' })).toHaveLength(1);
    expect(validateMapping({ type: 'user_id', aliasLabel: 'x' })).toEqual([
      { path: 'mapping.aliasLabel', message: expect.any(String) },
    ]);
    expect(
      validateMapping({ type: 'user_id', fallbacks: [{ type: 'device_id' }, { type: 'user_alias' }] }).map(
        (p) => p.path,
      ),
    ).toEqual(['mapping.fallbacks[1].aliasLabel']);
    fc.assert(
      fc.property(mapping, (m) => {
        expect(validateMapping(m)).toEqual([]); // every generated mapping is well-formed
      }),
    );
  });
});

describe('mapping validation', () => {
  it('refuses control characters in alias labels and properties, which would corrupt identifier keys', async () => {
    const { validateMapping } = await import('../../src/domain/mapping.ts');
    expect(validateMapping({ type: 'user_alias', aliasLabel: 'bad\u001flabel' }).map((p) => p.path)).toEqual([
      'mapping.aliasLabel',
    ]);
    expect(validateMapping({ type: 'user_alias', aliasLabel: 'ok', aliasProperty: ' ' }).map((p) => p.path)).toEqual([
      'mapping.aliasProperty',
    ]);
    expect(validateMapping({ type: 'user_alias', aliasLabel: 'ok', aliasProperty: 'email' })).toEqual([]);
    expect(validateMapping({ type: 'user_id', fallbacks: [{ type: 'user_alias' }] }).map((p) => p.path)).toEqual([
      'mapping.fallbacks[0].aliasLabel',
    ]);
  });
});
