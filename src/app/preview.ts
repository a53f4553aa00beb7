// Dry run (docs/product.md §4): what the next run of a sync would add, remove and skip, before anything is
// sent. It plans exactly as the run executor does (same staging, same anti-joins, in the store), under a
// throwaway id whose rows are cleared afterwards, so it sends nothing and leaves stored state as it was.
// It always plans in full: a real-time sync's next run is incremental, but reaches the same Braze state.
import type { PlannedIdentifier } from '../domain/batching.ts';
import { describeIdentifier, type IdentifierKind, parseIdentifierKey } from '../domain/identifiers.ts';
import type { Mapping } from '../domain/mapping.ts';
import { brazeCohortName, type Sync } from '../domain/model.ts';
import type { SyncPlanInput } from '../ports/store.ts';
import { requireCohort } from './cohorts.ts';
import type { Uses } from './deps.ts';
import { requireSync } from './syncs.ts';
import { requireTarget } from './targets.ts';

export const PREVIEW_SAMPLE = 20;
/** Planning a sync without sending: the sync, cohort and target, the planner in a scratch run, the audience. */
export type PreviewDeps = Uses<
  'newId' | 'settings' | 'destinations',
  'syncs' | 'cohorts' | 'targets' | 'planning' | 'audiences'
>;

const PAGE = 5000;

export interface PreviewMember {
  readonly user_id: string | null;
  readonly device_ids: string[];
}

export interface PreviewIdentifier {
  readonly kind: IdentifierKind;
  readonly value: string;
  /** The profile the identifier came from; null when it no longer exists (a stale identifier being removed). */
  readonly member: PreviewMember | null;
}

export interface SyncPreview {
  readonly syncId: string;
  readonly paused: boolean;
  readonly add: { count: number; sample: PreviewIdentifier[] };
  readonly remove: { count: number; sample: PreviewIdentifier[] };
  readonly skipped: {
    count: number;
    reasons: Record<string, number>;
    sample: { member: PreviewMember | null; reason: string }[];
  };
  /** Membership requests of at most 1,000 identifiers each. */
  readonly batches: number;
  /** Requests the run would make, retries aside: the batches, plus one to name or rename the Braze cohort. */
  readonly requests: number;
  readonly renames: boolean;
}

/**
 * What every sync of the same Braze cohort wants, as the executor plans it; the previewed sync counts as
 * active even when paused, since the preview answers "what would running it do".
 */
async function planInputs(deps: PreviewDeps, sync: PlannedSync): Promise<SyncPlanInput[]> {
  const inputs: SyncPlanInput[] = [];
  for (const s of await deps.store.syncs.listByAudience(sync.audienceRef)) {
    const target = await deps.store.targets.get(s.projectId, s.targetId);
    if (target) inputs.push({ mapping: target.mapping, cohortId: s.cohortId, active: s.id === sync.id || !s.paused });
  }
  if (sync.draftMapping) inputs.push({ mapping: sync.draftMapping, cohortId: sync.cohortId, active: true });
  return inputs;
}

/** What planning needs of a sync; a draft (not created yet) brings its target's mapping along. */
interface PlannedSync {
  readonly id: string;
  readonly projectId: string;
  readonly cohortId: string;
  readonly targetId: string;
  readonly audienceRef: string;
  readonly paused: boolean;
  readonly draftMapping?: Mapping;
}

async function countAndSample(
  read: (after: string | null) => Promise<PlannedIdentifier[]>,
): Promise<{ count: number; sample: PlannedIdentifier[] }> {
  let count = 0;
  const sample: PlannedIdentifier[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await read(after);
    count += page.length;
    if (sample.length < PREVIEW_SAMPLE) sample.push(...page.slice(0, PREVIEW_SAMPLE - sample.length));
    if (page.length < PAGE) return { count, sample };
    after = page[page.length - 1]!.key;
  }
}

export async function previewSync(deps: PreviewDeps, projectId: string, syncId: string): Promise<SyncPreview> {
  const sync: Sync = await requireSync(deps, projectId, syncId);
  return previewPlan(deps, sync);
}

/**
 * The preview of a sync not created yet (the sync wizard's review step): the cohort to the target, planned
 * against what Braze already holds for that cohort in the target's workspace (the Braze cohort other syncs
 * of the same cohort and workspace share), or against nothing when no sync has sent it there.
 */
export async function previewDraftSync(
  deps: PreviewDeps,
  projectId: string,
  draft: { cohortId: string; targetId: string },
): Promise<SyncPreview> {
  const cohort = await requireCohort(deps, projectId, draft.cohortId);
  const target = await requireTarget(deps, projectId, draft.targetId);
  let audienceRef: string | null = null;
  for (const s of await deps.store.syncs.list(projectId, { cohortId: cohort.id })) {
    const other = await deps.store.targets.get(projectId, s.targetId);
    if (other?.workspaceKey === target.workspaceKey) audienceRef = s.audienceRef;
  }
  return previewPlan(deps, {
    id: 'draft',
    projectId,
    cohortId: cohort.id,
    targetId: target.id,
    audienceRef: audienceRef ?? deps.newId('draft'),
    paused: false,
    draftMapping: target.mapping,
  });
}

async function previewPlan(deps: PreviewDeps, sync: PlannedSync): Promise<SyncPreview> {
  const cohort = await requireCohort(deps, sync.projectId, sync.cohortId);
  // The run packs batches by its definition's limit (1,000 identifiers, or 75 users over /users/track), and
  // only a named audience is created or renamed first: the preview counts requests the same way.
  const definition = deps.destinations.get((await requireTarget(deps, sync.projectId, sync.targetId)).delivery);
  const { planning, audiences } = deps.store;
  const scratch = deps.newId('preview');
  try {
    const inputs = await planInputs(deps, sync);
    await planning.stageDesired(scratch, inputs);
    const reasons = await planning.recordSkips(
      scratch,
      inputs.filter((i) => i.cohortId === sync.cohortId && i.active),
      PREVIEW_SAMPLE,
    );
    const adds = await countAndSample((after) => planning.pageAdds(scratch, sync.audienceRef, after, PAGE));
    const removes = await countAndSample((after) => planning.pageRemoves(scratch, sync.audienceRef, after, PAGE));
    const skips = await planning.runSkips(scratch, 0, PREVIEW_SAMPLE);

    const profileIds = [...adds.sample, ...removes.sample].flatMap((i) => (i.profileId === null ? [] : [i.profileId]));
    const profiles = await planning.profiles([...profileIds, ...skips.map((s) => s.profileId)]);
    const memberOf = (id: number | null): PreviewMember | null => {
      const p = id === null ? undefined : profiles.get(id);
      return p ? { user_id: p.userId, device_ids: p.deviceIds } : null;
    };
    const describe = (i: PlannedIdentifier): PreviewIdentifier => ({
      ...describeIdentifier(parseIdentifierKey(i.key)),
      member: memberOf(i.profileId),
    });

    // packBatches fills every batch to the limit before starting the next, so this is its exact count.
    const batches = Math.ceil((adds.count + removes.count) / definition.batch.max);
    const brazeCohort = await audiences.get(sync.audienceRef);
    const renames =
      definition.ensureAudience !== undefined &&
      brazeCohort?.namedAs !== brazeCohortName(deps.settings.cohortNamePrefix, cohort);
    return {
      syncId: sync.id,
      paused: sync.paused,
      add: { count: adds.count, sample: adds.sample.map(describe) },
      remove: { count: removes.count, sample: removes.sample.map(describe) },
      skipped: {
        count: Object.values(reasons).reduce((a, b) => a + b, 0),
        reasons,
        sample: skips.map((s) => ({ member: memberOf(s.profileId), reason: s.reason })),
      },
      batches,
      requests: batches + (renames ? 1 : 0),
      renames,
    };
  } finally {
    await planning.clearBatches(scratch);
  }
}
