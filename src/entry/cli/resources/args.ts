// Parsers of command-line values into API shapes. Each throws commander's InvalidArgumentError (or a
// UsageError for combinations) with a message a person can act on.
import { InvalidArgumentError } from 'commander';
import { UsageError } from './format.ts';

export const MAPPING_TYPES = ['user_id', 'device_id', 'user_alias'] as const;
export type MappingType = (typeof MAPPING_TYPES)[number];

export interface MappingBody {
  type: MappingType;
  aliasLabel?: string;
  aliasProperty?: string;
  fallbacks?: MappingBody[];
}

export const CADENCES = ['one_time', 'hourly', 'daily', 'real_time', 'cron'] as const;
export type CadenceArg = (typeof CADENCES)[number];

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export function oneOf<T extends string>(values: readonly T[], what: string) {
  return (value: string): T => {
    if ((values as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`${what} must be one of: ${values.join(', ')}`);
  };
}

export const mappingType = oneOf(MAPPING_TYPES, 'the mapping');
export const cadence = oneOf(CADENCES, 'the cadence');
export const runStatus = oneOf(RUN_STATUSES, 'the status');

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return Number(value);
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number above 0');
  return n;
}

/** For repeatable options: `--x a --x b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--notify a@x.com,b@x.com --notify c@x.com` → three addresses. */
export function collectEmails(value: string, previous: string[] | undefined): string[] {
  const emails = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const e of emails) {
    if (!/^[^\s@]+@[^\s@]+$/.test(e)) throw new InvalidArgumentError(`"${e}" is not an email address`);
  }
  return [...(previous ?? []), ...emails];
}

/**
 * A fallback mapping: `user_id`, `device_id`, or `user_alias:<label>` / `user_alias:<label>:<property>`
 * (the property, default user_id, is what follows the last colon).
 */
export function fallbackMapping(value: string): MappingBody {
  const first = value.indexOf(':');
  const type = mappingType(first === -1 ? value : value.slice(0, first));
  if (type !== 'user_alias') {
    if (first !== -1)
      throw new InvalidArgumentError(`only a user_alias fallback takes a label (user_alias:<label>[:<property>])`);
    return { type };
  }
  const rest = first === -1 ? '' : value.slice(first + 1);
  const last = rest.lastIndexOf(':');
  const aliasLabel = last === -1 ? rest : rest.slice(0, last);
  const aliasProperty = last === -1 ? undefined : rest.slice(last + 1);
  if (aliasLabel === '')
    throw new InvalidArgumentError('a user_alias fallback needs a label: user_alias:<label>[:<property>]');
  return aliasProperty ? { type, aliasLabel, aliasProperty } : { type, aliasLabel };
}

export interface MappingFlags {
  mapping?: MappingType;
  aliasLabel?: string;
  aliasProperty?: string;
  fallback?: string[];
}

/** The Mapping body from --mapping, --alias-label, --alias-property and repeated --fallback. */
export function mappingFromFlags(flags: MappingFlags): MappingBody {
  if (!flags.mapping) throw new UsageError('--mapping is required (user_id, device_id or user_alias)');
  const mapping: MappingBody = { type: flags.mapping };
  if (flags.mapping === 'user_alias') {
    if (!flags.aliasLabel)
      throw new UsageError('--mapping user_alias needs --alias-label <label> (the alias_label Braze stores)');
    mapping.aliasLabel = flags.aliasLabel;
    if (flags.aliasProperty) mapping.aliasProperty = flags.aliasProperty;
  } else if (flags.aliasLabel !== undefined || flags.aliasProperty !== undefined) {
    throw new UsageError('--alias-label and --alias-property only go with --mapping user_alias');
  }
  const fallbacks = (flags.fallback ?? []).map(fallbackMapping);
  if (fallbacks.length > 0) mapping.fallbacks = fallbacks;
  return mapping;
}

export interface MemberBody {
  user_id?: string;
  device_id?: string;
}

/** `--member user_id=u1,device_id=d1`: one member with both ids. */
export function memberSpec(value: string): MemberBody {
  const member: MemberBody = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const id = part.slice(eq + 1).trim();
    if (eq === -1 || (key !== 'user_id' && key !== 'device_id') || id === '') {
      throw new InvalidArgumentError(`"${part}" is not user_id=<id> or device_id=<id>`);
    }
    if (member[key] !== undefined) throw new InvalidArgumentError(`${key} is given twice in "${value}"`);
    member[key] = id;
  }
  return member;
}

export function collectMembers(value: string, previous: MemberBody[] | undefined): MemberBody[] {
  return [...(previous ?? []), memberSpec(value)];
}

/** Members from `--user-id` (each one member), `--device-id` (each one member) and `--member` (both ids). */
export function membersFromFlags(flags: {
  userId?: string[];
  deviceId?: string[];
  member?: MemberBody[];
}): MemberBody[] {
  const members: MemberBody[] = [
    ...(flags.userId ?? []).map((user_id) => ({ user_id })),
    ...(flags.deviceId ?? []).map((device_id) => ({ device_id })),
    ...(flags.member ?? []),
  ];
  if (members.length === 0)
    throw new UsageError(
      'name at least one member: --user-id <id>, --device-id <id> or --member user_id=<id>,device_id=<id>',
    );
  return members;
}

/** `explain` takes exactly one of --user-id and --device-id. */
export function explainQuery(flags: {
  userId?: string;
  deviceId?: string;
}): { user_id: string } | { device_id: string } {
  if (flags.userId !== undefined && flags.deviceId !== undefined)
    throw new UsageError('give --user-id or --device-id, not both');
  if (flags.userId !== undefined) return { user_id: flags.userId };
  if (flags.deviceId !== undefined) return { device_id: flags.deviceId };
  throw new UsageError('give --user-id <id> or --device-id <id>');
}
