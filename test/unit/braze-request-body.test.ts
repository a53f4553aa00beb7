import { describe, expect, it } from 'vitest';
import { cohortChangesBody, cohortNameBody } from '../../src/adapters/braze/request-body.ts';
import type { Identifier } from '../../src/domain/identifiers.ts';
import { DeliveryError } from '../../src/ports/destination.ts';

const credentials = { partnerApiKey: 'partner-key-xyz', clientSecret: 'data-import-key' };
const ext = (value: string): Identifier => ({ kind: 'external_id', value });
const dev = (value: string): Identifier => ({ kind: 'device_id', value });
const alias = (label: string, name: string): Identifier => ({ kind: 'alias', label, name });

function rejection(fn: () => unknown): DeliveryError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error('expected a DeliveryError');
}

describe('cohortNameBody', () => {
  it('carries exactly the five fields of docs/design.md §1', () => {
    expect(
      cohortNameBody(credentials, { id: 'c-1', name: 'Churn risk', createdAt: '2030-01-01T00:00:00.000Z' }),
    ).toStrictEqual({
      partner_api_key: 'partner-key-xyz',
      client_secret: 'data-import-key',
      cohort_id: 'c-1',
      name: 'Churn risk',
      created_at: '2030-01-01T00:00:00.000Z',
    });
  });

  it('refuses an empty name, an empty id and a non-timestamp created_at', () => {
    expect(
      rejection(() => cohortNameBody(credentials, { id: 'c-1', name: '  ', createdAt: '2030-01-01T00:00:00Z' })).kind,
    ).toBe('bad_request');
    expect(
      rejection(() => cohortNameBody(credentials, { id: '', name: 'x', createdAt: '2030-01-01T00:00:00Z' })).message,
    ).toMatch(/cohort_id/);
    expect(
      rejection(() => cohortNameBody(credentials, { id: 'c-1', name: 'x', createdAt: 'yesterday' })).message,
    ).toMatch(/ISO-8601/);
  });
});

describe('cohortChangesBody', () => {
  it('groups identifiers by kind into an add block and a should_remove block, order kept', () => {
    const body = cohortChangesBody(credentials, 'c-1', {
      add: [ext('U1'), dev('d1'), alias('email', 'a@x.io'), ext('u2')],
      remove: [dev('d9'), ext('U9')],
    });
    expect(body).toStrictEqual({
      partner_api_key: 'partner-key-xyz',
      client_secret: 'data-import-key',
      cohort_id: 'c-1',
      cohort_changes: [
        { user_ids: ['U1', 'u2'], device_ids: ['d1'], aliases: [{ alias_name: 'a@x.io', alias_label: 'email' }] },
        { user_ids: ['U9'], device_ids: ['d9'], should_remove: true },
      ],
    });
  });

  it('omits an empty block and empty arrays', () => {
    expect(
      cohortChangesBody(credentials, 'c-1', { add: [], remove: [alias('crm', 'n1')] }).cohort_changes,
    ).toStrictEqual([{ aliases: [{ alias_name: 'n1', alias_label: 'crm' }], should_remove: true }]);
    expect(cohortChangesBody(credentials, 'c-1', { add: [ext('u1')], remove: [] }).cohort_changes).toStrictEqual([
      { user_ids: ['u1'] },
    ]);
  });

  it('sends values untouched (external ids are case-sensitive, never trimmed)', () => {
    expect(cohortChangesBody(credentials, 'c-1', { add: [ext(' MiXeD ')], remove: [] }).cohort_changes).toStrictEqual([
      { user_ids: [' MiXeD '] },
    ]);
  });

  it('accepts exactly 1,000 identifiers and refuses 1,001', () => {
    const ids = Array.from({ length: 1_001 }, (_, i) => ext(`u${i}`));
    expect(() =>
      cohortChangesBody(credentials, 'c-1', { add: ids.slice(0, 600), remove: ids.slice(600, 1_000) }),
    ).not.toThrow();
    const error = rejection(() =>
      cohortChangesBody(credentials, 'c-1', { add: ids.slice(0, 600), remove: ids.slice(600) }),
    );
    expect(error.kind).toBe('bad_request');
    expect(error.message).toMatch(/1001 identifiers.*at most 1000/);
  });

  it('refuses an identifier in both blocks', () => {
    const error = rejection(() =>
      cohortChangesBody(credentials, 'c-1', { add: [ext('u1'), dev('d1')], remove: [dev('d1')] }),
    );
    expect(error.kind).toBe('bad_request');
    expect(error.message).toMatch(/device_id "d1" appears in both the add and the remove block/);
  });

  it('refuses an identifier twice in one block, aliases compared by label and name', () => {
    expect(
      rejection(() => cohortChangesBody(credentials, 'c-1', { add: [], remove: [alias('l', 'n'), alias('l', 'n')] }))
        .message,
    ).toMatch(/alias "l:n" appears twice in the remove block/);
    // Same value, different kinds: different identifiers, allowed.
    expect(() =>
      cohortChangesBody(credentials, 'c-1', { add: [ext('x'), dev('x'), alias('x', 'x')], remove: [alias('y', 'x')] }),
    ).not.toThrow();
  });
});
