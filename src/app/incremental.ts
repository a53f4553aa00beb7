// Incremental planning for real-time syncs (docs/product.md §4: "within seconds of a membership change").
//
// Every membership or identity change is appended to member_changes (seq, project, cohort or null, profile).
// Each Braze cohort remembers in change_seq the position up to which its acknowledged state reflects the
// log. A run records at its start the highest committed seq (its change mark) and, when it succeeds, the
// Braze cohort's change_seq advances to that mark — full runs as well as incremental ones.
//
// An incremental run stages only the profiles whose changes after change_seq concern the Braze cohort
// (membership rows of its cohort; identity rows, cohort_id null, of profiles that are members or have
// identifiers acknowledged there — a merged-away anonymous profile's identifiers were re-pointed to the
// surviving profile, and a device that moves to another user carries its identifier along; both profiles
// are logged). It stages what those profiles want now and removes, among the
// identifiers acknowledged for them or that only they can produce, what they no longer want. See
// src/domain/incremental.ts for why this is exact, and for the one mapping where it is not (an alias on a
// shared user property), whose runs plan in full instead. So do runs with very many changed profiles (a
// full plan is then cheaper) and runs whose change position cannot be read safely.
//
// Scheduled and manual runs (mode `full`) plan from the change log the same way, as long as the Braze cohort's
// acknowledged state is known to be a full plan's result under the same inputs (src/domain/incremental.ts,
// planBasis) and its last full reconcile is recent (fullReconcileHours, default 24). Otherwise — and when a
// reconcile is asked for (`reconcile: true`, `--full`) — they re-read the whole cohort, which re-establishes
// the basis when the run delivers everything.
import { type FullPlanReason, fullPlanReason, planBasis } from '../domain/incremental.ts';
import type { Run } from '../domain/model.ts';
import type { PlanningRepo, SyncPlanInput } from '../ports/store.ts';

/** Changed profiles a plan from the changes always may have, however small the cohort. */
export const INCREMENTAL_MAX_PROFILES = 20_000;
/**
 * Above a twentieth of the cohort changed, the cohort is re-read: per changed profile a plan from the changes
 * costs about 13 times what a full reconcile costs per member (docs/benchmarks.md, "Planning from the changes"),
 * so below N/20 it stays well under the reconcile, and above N/13 it would not.
 */
export const INCREMENTAL_MAX_FRACTION = 0.05;

export interface PlanInputs {
  readonly inputs: readonly SyncPlanInput[];
  /** One entry per sync of the Braze cohort, as the inputs were built (src/domain/incremental.ts planBasis). */
  readonly syncs: readonly { syncId: string; active: boolean; mapping: SyncPlanInput['mapping'] }[];
  /** Members of the cohort, for the bound on changed profiles. */
  readonly cohortSize: number;
}

export interface PlanStart {
  /** True when the plan is from the changes (stage with stageDesiredFor, remove with pageRemovesFor). */
  readonly fromChanges: boolean;
  /** Why it re-reads the cohort, when it does. */
  readonly reason: FullPlanReason | null;
}

/** The bound on changed profiles for a cohort of `size` members. */
export const maxChangedProfiles = (size: number) =>
  Math.max(INCREMENTAL_MAX_PROFILES, Math.floor(size * INCREMENTAL_MAX_FRACTION));

/**
 * Records the run's change mark and chooses its plan; for a plan from the changes, stages its changed
 * profiles and what they want. The caller re-reads the cohort (stageDesired) otherwise.
 */
export async function beginPlan(
  planning: PlanningRepo,
  run: Run,
  plan: PlanInputs,
  opts: { now: Date; fullReconcileHours: number; maxProfiles?: number },
): Promise<PlanStart> {
  const mark = await planning.changeHighWater();
  await planning.setChangeMark(run.id, mark);
  const basis = planBasis(plan.syncs);
  const trusted = await planning.planBasis(run.brazeCohortId);
  // Whatever this run plans, it may change the acknowledged state under other inputs than the remembered
  // ones: the basis no longer holds from its first batch on (a full plan re-establishes it when it succeeds).
  if (trusted.basis !== null && trusted.basis !== basis) await planning.forgetPlanBasis(run.brazeCohortId);
  let reason =
    fullPlanReason({
      mode: run.mode,
      reconcileAsked: run.reconcile,
      mappings: plan.inputs.map((i) => i.mapping),
      basis,
      trustedBasis: trusted.basis,
      reconciledAt: trusted.reconciledAt,
      now: opts.now,
      reconcileEveryMs: opts.fullReconcileHours * 3_600_000,
    }) ?? (mark === null ? 'no_log_position' : null);
  if (reason === null && mark !== null) {
    const max = opts.maxProfiles ?? maxChangedProfiles(plan.cohortSize);
    const from = await planning.changeSeq(run.brazeCohortId);
    const staged = await planning.stageChangedProfiles(run.id, run.brazeCohortId, from, mark, max + 1);
    if (staged > max) {
      await planning.clearChangedProfiles(run.id);
      reason = 'too_many_changes';
    }
  }
  await planning.setRunPlan(run.id, reason === null ? 'changes' : 'cohort', basis);
  if (reason === null) await planning.stageDesiredFor(run.id, plan.inputs);
  return { fromChanges: reason === null, reason };
}
