// When an incremental plan (real-time syncs) is exact. Pure.
//
// An incremental run looks only at the profiles changed since the Braze cohort's change_seq: it stages what
// those profiles want now and considers for removal only identifiers acknowledged for those profiles (or
// keys only they can produce). That equals a full re-diff as long as every identifier belongs to at most
// one profile: then an identifier nobody changed is still wanted by whoever wanted it before.
//
// external_id (user_id is unique in a project), device_id (a device belongs to one profile) and an alias
// whose alias_name is the user_id all have that property. An alias whose alias_name comes from a user
// property (`aliasProperty: "plan"`, `"email"`, …) does not: many members may produce the same alias, so
// when one of them leaves, whether the alias must be removed depends on members that did not change.
// Such mappings are the one case incremental cannot decide exactly; their runs fall back to a full plan.
import { type Mapping, mappingChain } from './mapping.ts';

/** Whether an alias step names users by a property that several profiles may share. */
function sharedAliasStep(step: Mapping): boolean {
  return step.type === 'user_alias' && step.aliasProperty !== undefined && step.aliasProperty !== 'user_id';
}

/** Whether an incremental plan gives exactly what a full plan would for this mapping (and its fallbacks). */
export function incrementalIsExact(mapping: Mapping): boolean {
  return !mappingChain(mapping).some(sharedAliasStep);
}

/** Labels of alias steps whose alias_name is the user_id: aliases only one profile can produce. */
export function userIdAliasLabels(mapping: Mapping): string[] {
  return mappingChain(mapping)
    .filter((s) => s.type === 'user_alias' && !sharedAliasStep(s))
    .map((s) => s.aliasLabel ?? '');
}
