import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  cadence,
  collectEmails,
  explainQuery,
  fallbackMapping,
  mappingFromFlags,
  memberSpec,
  membersFromFlags,
  positiveInt,
  positiveNumber,
} from '../../src/entry/cli/resources/args.ts';
import { UsageError } from '../../src/entry/cli/resources/format.ts';

describe('mappingFromFlags', () => {
  it('builds a plain mapping', () => {
    expect(mappingFromFlags({ mapping: 'device_id' })).toEqual({ type: 'device_id' });
  });

  it('requires a label for user_alias and keeps the property', () => {
    expect(() => mappingFromFlags({ mapping: 'user_alias' })).toThrow(UsageError);
    expect(mappingFromFlags({ mapping: 'user_alias', aliasLabel: 'amp', aliasProperty: 'email' })).toEqual({
      type: 'user_alias',
      aliasLabel: 'amp',
      aliasProperty: 'email',
    });
  });

  it('refuses alias options on other mappings rather than dropping them', () => {
    expect(() => mappingFromFlags({ mapping: 'user_id', aliasLabel: 'x' })).toThrow(
      /only go with --mapping user_alias/,
    );
    expect(() => mappingFromFlags({ mapping: 'user_id', aliasProperty: 'email' })).toThrow(UsageError);
  });

  it('adds fallbacks in the order given', () => {
    expect(mappingFromFlags({ mapping: 'user_id', fallback: ['device_id', 'user_alias:Amp:Label:email'] })).toEqual({
      type: 'user_id',
      fallbacks: [{ type: 'device_id' }, { type: 'user_alias', aliasLabel: 'Amp:Label', aliasProperty: 'email' }],
    });
  });

  it('needs --mapping', () => {
    expect(() => mappingFromFlags({})).toThrow(/--mapping is required/);
  });
});

describe('fallbackMapping', () => {
  it('parses user_alias with a label and an optional property', () => {
    expect(fallbackMapping('user_alias:amp')).toEqual({ type: 'user_alias', aliasLabel: 'amp' });
    expect(fallbackMapping('user_alias:amp:email')).toEqual({
      type: 'user_alias',
      aliasLabel: 'amp',
      aliasProperty: 'email',
    });
  });

  it('rejects unknown types, a user_alias without label, and labels on other types', () => {
    expect(() => fallbackMapping('email')).toThrow(InvalidArgumentError);
    expect(() => fallbackMapping('user_alias')).toThrow(/needs a label/);
    expect(() => fallbackMapping('user_alias:')).toThrow(/needs a label/);
    expect(() => fallbackMapping('device_id:x')).toThrow(/only a user_alias fallback/);
  });
});

describe('members', () => {
  it('makes one member per --user-id and --device-id, and one with both ids per --member', () => {
    expect(
      membersFromFlags({ userId: ['u1', 'u2'], deviceId: ['d1'], member: [memberSpec('user_id=u3,device_id=d3')] }),
    ).toEqual([{ user_id: 'u1' }, { user_id: 'u2' }, { device_id: 'd1' }, { user_id: 'u3', device_id: 'd3' }]);
  });

  it('needs at least one member', () => {
    expect(() => membersFromFlags({})).toThrow(UsageError);
  });

  it('rejects malformed --member values', () => {
    expect(() => memberSpec('u1')).toThrow(InvalidArgumentError);
    expect(() => memberSpec('email=a@b.c')).toThrow(/user_id=<id> or device_id=<id>/);
    expect(() => memberSpec('user_id=')).toThrow(InvalidArgumentError);
    expect(() => memberSpec('user_id=a,user_id=b')).toThrow(/given twice/);
  });
});

describe('small parsers', () => {
  it('collects comma-separated and repeated emails, refusing non-addresses', () => {
    expect(collectEmails('b@x.io', collectEmails('a@x.io, c@x.io', undefined))).toEqual(['a@x.io', 'c@x.io', 'b@x.io']);
    expect(() => collectEmails('nobody', undefined)).toThrow(/not an email address/);
  });

  it('checks cadences, counts and durations', () => {
    expect(cadence('hourly')).toBe('hourly');
    expect(() => cadence('weekly')).toThrow(/one_time, hourly, daily, real_time, cron/);
    expect(positiveInt('25')).toBe(25);
    expect(() => positiveInt('0')).toThrow(InvalidArgumentError);
    expect(() => positiveInt('2.5')).toThrow(InvalidArgumentError);
    expect(positiveNumber('0.25')).toBe(0.25);
    expect(() => positiveNumber('-1')).toThrow(InvalidArgumentError);
    expect(() => positiveNumber('')).toThrow(InvalidArgumentError);
  });

  it('explain takes exactly one id', () => {
    expect(explainQuery({ userId: 'u1' })).toEqual({ user_id: 'u1' });
    expect(explainQuery({ deviceId: 'd1' })).toEqual({ device_id: 'd1' });
    expect(() => explainQuery({})).toThrow(UsageError);
    expect(() => explainQuery({ userId: 'u', deviceId: 'd' })).toThrow(/not both/);
  });
});
