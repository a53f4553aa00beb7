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

// ---- Which plan a run makes -------------------------------------------------------------------------------
//
// A plan from the changes (above) is exact only relative to an acknowledged state that is itself a full plan's
// result under the same inputs: for every profile with no change after change_seq, what Braze acknowledged for
// it is what the syncs want of it now. A full plan establishes that; incremental plans keep it, under the same
// syncs, mappings and pause states. Anything else that changes what is wanted — a sync created, deleted,
// paused or resumed, a target's mapping edited — is not in the change log, so the inputs themselves are
// remembered (planBasis) and a run whose inputs differ plans in full.

/** What a sync contributes to the desired state of its Braze cohort. */
export interface PlanBasisEntry {
  readonly syncId: string;
  readonly mapping: Mapping;
  readonly active: boolean;
}

/** A canonical text of the plan inputs: equal exactly when every sync, mapping and pause state is. */
export function planBasis(entries: readonly PlanBasisEntry[]): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(
    [...entries]
      .sort((a, b) => (a.syncId < b.syncId ? -1 : a.syncId > b.syncId ? 1 : 0))
      .map((e) => [e.syncId, canonical(e.mapping), e.active]),
  );
}

/** Why a run re-reads its whole cohort; null: it may plan from the changes. */
export type FullPlanReason =
  | 'remove_all'
  | 'shared_alias'
  | 'asked'
  | 'inputs_changed'
  | 'reconcile_due'
  | 'no_log_position'
  | 'too_many_changes';

export interface PlanChoiceInput {
  readonly mode: 'full' | 'incremental' | 'remove_all';
  /** A full reconcile was asked for (API `reconcile`, CLI `--full`). */
  readonly reconcileAsked: boolean;
  readonly mappings: readonly Mapping[];
  /** planBasis of the run's inputs, and the one the acknowledged state is known to be a full plan under. */
  readonly basis: string;
  readonly trustedBasis: string | null;
  readonly reconciledAt: string | null;
  readonly now: Date;
  /** A scheduled (full) run re-reads the cohort when the last full reconcile is older than this. */
  readonly reconcileEveryMs: number;
}

/**
 * Whether a run may plan from the change log, before its changes are counted. Real-time runs always may
 * when the mapping is exact (their basis is checked by the caller, which forgets a basis that differs);
 * scheduled and manual runs only on a trusted basis, reconciled within reconcileEveryMs, unless asked not to.
 */
export function fullPlanReason(c: PlanChoiceInput): FullPlanReason | null {
  if (c.mode === 'remove_all') return 'remove_all';
  if (!c.mappings.every(incrementalIsExact)) return 'shared_alias';
  if (c.mode === 'incremental') return null;
  if (c.reconcileAsked) return 'asked';
  if (c.trustedBasis === null || c.trustedBasis !== c.basis) return 'inputs_changed';
  if (c.reconciledAt === null || c.now.getTime() - Date.parse(c.reconciledAt) >= c.reconcileEveryMs)
    return 'reconcile_due';
  return null;
}
