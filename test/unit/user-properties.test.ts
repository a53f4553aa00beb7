import { describe, expect, it } from 'vitest';
import { isPlaceholderId, storableJson, validateEvents } from '../../src/domain/amplitude-event.ts';
import { applyUserProperties, checkUserProperties } from '../../src/domain/user-properties.ts';

describe('user-property operations', () => {
  it('applies each operation as Amplitude documents it, leaving the input untouched', () => {
    const current = Object.freeze({ n: 1, list: ['a', 'b'], s: 'x', keep: true });
    const next = applyUserProperties(current, {
      $add: { n: 2.5, fresh: 3, bad: 'nope' },
      $append: { list: ['c'], s: 'y', newList: 1 },
      $prepend: { list: 'z' },
      $preInsert: { list: 'a', other: ['p'] },
      $postInsert: { list: ['b', 'q'] },
      $remove: { list: 'b', absent: 1 },
      $setOnce: { keep: false, once: 1 },
      $unset: ['s'],
      plain: 'set',
    });
    expect(next).toEqual({
      n: 3.5,
      fresh: 3,
      list: ['z', 'a', 'c', 'q'],
      newList: [1],
      s: ['y'], // $unset runs before $append in one update
      other: ['p'],
      keep: true,
      once: 1,
      plain: 'set',
    });
    expect(current).toEqual({ n: 1, list: ['a', 'b'], s: 'x', keep: true });
    expect(applyUserProperties(current, { $clearAll: '-', $set: { only: 1 } })).toEqual({ only: 1 });
  });

  it('refuses unknown operations, non-object arguments, and mixed objects where asked', () => {
    expect(checkUserProperties({ $set: { a: 1 } }, { allowMixed: false })).toBeNull();
    expect(checkUserProperties({ $increment: { a: 1 } }, { allowMixed: true })).toMatch(/unknown operation/);
    expect(checkUserProperties({ $set: 'a' }, { allowMixed: true })).toMatch(/must be an object/);
    expect(checkUserProperties({ a: 1, $set: { b: 1 } }, { allowMixed: false })).toMatch(/cannot be mixed/);
    expect(checkUserProperties({ a: 1, $set: { b: 1 } }, { allowMixed: true })).toBeNull();
  });
});

describe('event validation', () => {
  it('knows the placeholder ids and the storable strings', () => {
    for (const id of ['anonymous', 'NULL', ' nil ', 'n/a', 'NA', 'undefined', 'unknown', '0', '-1', '{}', ''])
      expect(isPlaceholderId(id)).toBe(true);
    expect(isPlaceholderId('user-42')).toBe(false);
    expect(storableJson({ a: 'x'.repeat(1024) })).toBe(true);
    expect(storableJson({ a: 'x'.repeat(1025) })).toBe(false);
    expect(storableJson({ ['k'.repeat(1025)]: 1 })).toBe(false);
    expect(storableJson({ a: 'nul\u0000' })).toBe(false);
    expect(storableJson({ a: '\ud83d\ude00 emoji' })).toBe(true);
    expect(storableJson(JSON.parse('{"__proto__": {"polluted": 1}}'))).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 41; i += 1) deep = { d: deep };
    expect(storableJson(deep)).toBe(false);
  });

  it('drops ids shorter than min_id_length and keeps the event if another id is left', () => {
    const r = validateEvents([{ event_type: 'E', user_id: 'abcd', device_id: 'device-1' }], {
      minIdLength: 5,
      receivedMs: 7,
    });
    expect(r.valid).toEqual([
      {
        index: 0,
        eventType: 'E',
        userId: null,
        deviceId: 'device-1',
        timeMs: 7,
        insertId: null,
        eventProperties: {},
        userProperties: {},
        data: {},
      },
    ]);
  });
});
