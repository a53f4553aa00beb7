// Validation of seeded users (admin API and SandboxState.seedUsers share it, so both refuse the same input).
import { badRequest } from './errors.ts';
import { optionalAliases, optionalStringArray, rejectUnknownFields, requireObject } from './json-checks.ts';
import type { SeedUser } from './user-store.ts';

const USER_FIELDS = ['external_id', 'device_ids', 'aliases'] as const;

export function parseSeedUsers(value: unknown): SeedUser[] {
  if (!Array.isArray(value)) throw badRequest('users must be an array');
  return value.map((raw, i) => {
    const path = `users[${i}]`;
    const object = requireObject(raw, path);
    rejectUnknownFields(object, USER_FIELDS, path);
    const externalId = object.external_id;
    if (externalId !== undefined && (typeof externalId !== 'string' || externalId.length === 0)) {
      throw badRequest(`${path}.external_id must be a non-empty string`);
    }
    const user: SeedUser = {
      ...(externalId !== undefined && { external_id: externalId }),
      device_ids: optionalStringArray(object, 'device_ids', path),
      aliases: optionalAliases(object, 'aliases', path),
    };
    // A profile with no identifier could never be matched by anything; it is a mistake in the seed data.
    if (externalId === undefined && user.device_ids?.length === 0 && user.aliases?.length === 0) {
      throw badRequest(`${path} needs an external_id, a device id or an alias`);
    }
    return user;
  });
}
