// How a member becomes Braze identifiers (docs/design.md §8, docs/design.md §3). Pure: the store runs the same rules
// in SQL for whole cohorts, and a property test holds the two to agreement.
import type { Identifier } from './identifiers.ts';

export type MappingType = 'user_id' | 'device_id' | 'user_alias';

export interface Mapping {
  readonly type: MappingType;
  /** Required for user_alias: the alias_label Braze stores. */
  readonly aliasLabel?: string;
  /** For user_alias: which property gives alias_name; `user_id` (the default) or a user property. */
  readonly aliasProperty?: string;
  /** Tried in order when this mapping yields nothing for a member. */
  readonly fallbacks?: readonly Mapping[];
}

export interface MemberIdentity {
  readonly userId: string | null;
  readonly deviceIds: readonly string[];
  readonly properties: Readonly<Record<string, unknown>>;
}

export type SkipReason = 'no_user_id' | 'no_device_id' | 'no_alias_value';

export type Resolution =
  | { readonly ok: true; readonly identifiers: readonly Identifier[]; readonly via: MappingType }
  | { readonly ok: false; readonly reason: SkipReason };

/** The value used as alias_name: user_id, or a scalar user property rendered as text. */
export function aliasValue(member: MemberIdentity, property: string | undefined): string | null {
  if (!property || property === 'user_id') return member.userId;
  const raw = member.properties[property];
  if (typeof raw === 'string') return raw === '' ? null : raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return null;
}

function resolveOne(member: MemberIdentity, mapping: Mapping): Resolution {
  switch (mapping.type) {
    case 'user_id':
      return member.userId !== null
        ? { ok: true, via: 'user_id', identifiers: [{ kind: 'external_id', value: member.userId }] }
        : { ok: false, reason: 'no_user_id' };
    case 'device_id': {
      // Braze ignores device ids of identified users, so identified members also go by external_id (docs/design.md §3).
      const ids: Identifier[] = member.deviceIds.map((value) => ({ kind: 'device_id', value }));
      if (member.userId !== null) ids.push({ kind: 'external_id', value: member.userId });
      return ids.length > 0 ? { ok: true, via: 'device_id', identifiers: ids } : { ok: false, reason: 'no_device_id' };
    }
    case 'user_alias': {
      const name = aliasValue(member, mapping.aliasProperty);
      return name !== null
        ? { ok: true, via: 'user_alias', identifiers: [{ kind: 'alias', label: mapping.aliasLabel ?? '', name }] }
        : { ok: false, reason: 'no_alias_value' };
    }
  }
}

/** The mapping chain in the order it is tried: the mapping itself, then its fallbacks (depth-first). */
export function mappingChain(mapping: Mapping): Mapping[] {
  const chain: Mapping[] = [{ ...mapping, fallbacks: undefined }];
  for (const fallback of mapping.fallbacks ?? []) chain.push(...mappingChain(fallback));
  return chain;
}

/** Identifiers of the first mapping in the chain that yields any; otherwise the primary mapping's reason. */
export function resolveIdentifiers(member: MemberIdentity, mapping: Mapping): Resolution {
  let first: Resolution | undefined;
  for (const step of mappingChain(mapping)) {
    const result = resolveOne(member, step);
    if (result.ok) return result;
    first ??= result;
  }
  return first ?? { ok: false, reason: primarySkipReason(mapping) };
}

export const SKIP_REASON_TEXT: Record<SkipReason, string> = {
  no_user_id: 'member has no user_id, which the mapping sends as external_id',
  no_device_id: 'member has no device_id or user_id',
  no_alias_value: 'member has no value for the alias property',
};

export function validateMapping(mapping: Mapping, path = 'mapping'): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (mapping.type === 'user_alias' && !mapping.aliasLabel?.trim()) {
    problems.push({ path: `${path}.aliasLabel`, message: 'a user alias label is required for the user_alias mapping' });
  }
  // Control characters cannot be typed into Braze's alias label and would break our identifier keys.
  if (mapping.aliasLabel && /[\u0000-\u001f\u007f]/.test(mapping.aliasLabel)) {
    problems.push({ path: `${path}.aliasLabel`, message: 'the alias label cannot contain control characters' });
  }
  if (
    mapping.aliasProperty !== undefined &&
    (!mapping.aliasProperty.trim() || /[\u0000-\u001f\u007f]/.test(mapping.aliasProperty))
  ) {
    problems.push({
      path: `${path}.aliasProperty`,
      message: 'the alias property must be a non-empty name without control characters',
    });
  }
  if (mapping.type !== 'user_alias' && mapping.aliasLabel) {
    problems.push({ path: `${path}.aliasLabel`, message: 'aliasLabel applies only to the user_alias mapping' });
  }
  (mapping.fallbacks ?? []).forEach((f, i) => problems.push(...validateMapping(f, `${path}.fallbacks[${i}]`)));
  return problems;
}

/** The reason recorded for a member no step of the mapping reaches: the primary mapping's. */
export function primarySkipReason(mapping: Mapping): SkipReason {
  const reasons: Record<MappingType, SkipReason> = {
    user_id: 'no_user_id',
    device_id: 'no_device_id',
    user_alias: 'no_alias_value',
  };
  return reasons[mapping.type];
}
