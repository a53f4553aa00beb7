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
// surviving profile, which is logged too). It stages what those profiles want now and removes, among the
// identifiers acknowledged for them or that only they can produce, what they no longer want. See
// src/domain/incremental.ts for why this is exact, and for the one mapping where it is not (an alias on a
// shared user property), whose runs plan in full instead. So do runs with very many changed profiles (a
// full plan is then cheaper) and runs whose change position cannot be read safely.
import { incrementalIsExact } from '../domain/incremental.ts';
import type { Run } from '../domain/model.ts';
import type { PlanningRepo, SyncPlanInput } from '../ports/store.ts';

/** Above this many changed profiles an incremental run plans in full: one pass over the cohort is cheaper. */
export const INCREMENTAL_MAX_PROFILES = 20_000;

/**
 * Records the run's change mark and, for an incremental run that can be exact, stages its changed profiles.
 * Returns true when the plan is incremental (stage with stageDesiredFor, remove with pageRemovesFor), false
 * when the caller plans in full.
 */
export async function beginPlan(
  planning: PlanningRepo,
  run: Run,
  inputs: readonly SyncPlanInput[],
  maxProfiles = INCREMENTAL_MAX_PROFILES,
): Promise<boolean> {
  const mark = await planning.changeHighWater();
  await planning.setChangeMark(run.id, mark);
  if (run.mode !== 'incremental' || mark === null) return false;
  if (!inputs.every((i) => incrementalIsExact(i.mapping))) return false;
  const from = await planning.changeSeq(run.brazeCohortId);
  const staged = await planning.stageChangedProfiles(run.id, run.brazeCohortId, from, mark);
  if (staged > maxProfiles) {
    await planning.clearChangedProfiles(run.id);
    return false;
  }
  await planning.stageDesiredFor(run.id, inputs);
  return true;
}
