// Explain a user (docs/design.md §8): for one user_id or device_id, whether they are in each synced cohort,
// which identifiers each sync's mapping gives them now, what was sent, when, in which run, with what
// outcome — and the Braze rule that may still keep them out of the segment (docs/design.md §3: Braze never
// creates users; it ignores device ids of identified users).
import { describeIdentifier, type IdentifierKind, identifierKey, parseIdentifierKey } from '../domain/identifiers.ts';
import {
  type Mapping,
  type MappingType,
  resolveIdentifiers,
  SKIP_REASON_TEXT,
  type SkipReason,
} from '../domain/mapping.ts';
import type { Cadence, RunStatus, RunTrigger, Sync, Target } from '../domain/model.ts';
import type { ProfileRecord } from '../ports/store.ts';
import type { Uses } from './deps.ts';
import { invalid } from './errors.ts';
import { requireProject } from './projects.ts';

/** Explaining a user: their profile and cohorts, each sync's plan and acknowledged state, the mode's rules. */
export type ExplainDeps = Uses<
  'destinations',
  'projects' | 'membership' | 'cohorts' | 'syncs' | 'targets' | 'audiences' | 'planning' | 'runs'
>;

export interface ExplainedProfile {
  readonly id: number;
  readonly userId: string | null;
  readonly deviceIds: readonly string[];
  readonly identified: boolean;
}

/** Where one identifier stands in one Braze cohort. */
export type IdentifierState =
  /** Wanted and acknowledged by Braze (a 2xx answered the batch that added it). */
  | 'in_braze'
  /** Wanted, not acknowledged yet: the next run adds it. */
  | 'pending_add'
  /** Acknowledged, no longer wanted by any sync of the Braze cohort: the next run removes it. */
  | 'pending_removal'
  /** Acknowledged and not wanted by this sync, but another sync of the same Braze cohort still wants it. */
  | 'kept_by_other_sync'
  /** Neither wanted nor in Braze. */
  | 'not_in_braze';

export interface ExplainedTouch {
  readonly runId: string;
  readonly operation: 'add' | 'remove';
  /** acked: Braze answered 2xx; failed: Braze refused the batch; pending: not sent yet (or the run stopped). */
  readonly outcome: 'acked' | 'failed' | 'pending';
  readonly error: string | null;
  readonly at: string | null;
  readonly runStatus: RunStatus | null;
  readonly runTrigger: RunTrigger | null;
}

export interface ExplainedIdentifier {
  readonly kind: IdentifierKind;
  readonly value: string;
  /** The mapping gives this identifier to the user now, and the user is a member. */
  readonly wanted: boolean;
  readonly state: IdentifierState;
  /** Set while Braze holds it according to our acknowledged state. */
  readonly acknowledged: { readonly runId: string; readonly ackedAt: string } | null;
  /** The newest batch that carried this identifier, and what came of it. */
  readonly lastRun: ExplainedTouch | null;
  /** The Braze matching rule that decides whether this identifier puts the user in the segment. */
  readonly brazeRule: string;
}

export interface ExplainedSync {
  readonly syncId: string;
  readonly targetId: string;
  readonly targetName: string | null;
  readonly cadence: Cadence;
  readonly paused: boolean;
  readonly nextRunAt: string | null;
  readonly mapping: Mapping | null;
  /** Which mapping step reached the user (a fallback, say), when one did. */
  readonly via: MappingType | null;
  /** Set when the user is a member but the mapping gives them no identifier. */
  readonly skipped: { readonly reason: SkipReason; readonly message: string } | null;
  readonly identifiers: readonly ExplainedIdentifier[];
  readonly lastRun: {
    readonly id: string;
    readonly status: RunStatus;
    readonly trigger: RunTrigger;
    readonly finishedAt: string | null;
  } | null;
  /** One sentence a person can act on. */
  readonly summary: string;
}

export interface ExplainedCohort {
  readonly cohortId: string;
  readonly cohortName: string;
  readonly member: boolean;
  readonly syncs: readonly ExplainedSync[];
}

export interface Explanation {
  readonly projectId: string;
  readonly query: { readonly userId?: string; readonly deviceId?: string };
  /** null: no profile of the project has this user_id / device_id. */
  readonly profile: ExplainedProfile | null;
  readonly cohorts: readonly ExplainedCohort[];
  readonly notes: readonly string[];
}

export async function explainUser(
  deps: ExplainDeps,
  projectId: string,
  who: { userId?: string; deviceId?: string },
): Promise<Explanation> {
  await requireProject(deps, projectId);
  const userId = who.userId?.length ? who.userId : undefined;
  const deviceId = who.deviceId?.length ? who.deviceId : undefined;
  if (userId === undefined && deviceId === undefined)
    throw invalid([{ path: 'user_id', message: 'give a user_id or a device_id' }]);
  const { store } = deps;
  const query = { ...(userId !== undefined ? { userId } : {}), ...(deviceId !== undefined ? { deviceId } : {}) };
  const found = await store.membership.findProfile(
    projectId,
    userId !== undefined ? { userId } : { deviceId: deviceId! },
  );
  const notes: string[] = [];
  if (!found) {
    notes.push(
      `No profile of this project has ${userId !== undefined ? `user_id "${userId}"` : `device_id "${deviceId}"`}: the user is in no cohort.`,
    );
  } else if (userId !== undefined && deviceId !== undefined && !found.deviceIds.includes(deviceId)) {
    notes.push(
      `The profile with user_id "${userId}" does not have device_id "${deviceId}"; this explains the user_id.`,
    );
  }
  if (found?.userId != null && found.deviceIds.length > 0) {
    notes.push(
      `This user is identified: ${deps.destinations.product} ignores their device ids (${found.deviceIds.join(', ')}) and matches them by external_id "${found.userId}" or an alias.`,
    );
  }

  // Cohorts that have syncs, in the order their first sync was created.
  const byCohort = new Map<string, Sync[]>();
  for (const sync of await store.syncs.list(projectId))
    byCohort.set(sync.cohortId, [...(byCohort.get(sync.cohortId) ?? []), sync]);
  const targets = new Map<string, Target | undefined>();
  const targetOf = async (sync: Sync) => {
    if (!targets.has(sync.targetId)) targets.set(sync.targetId, await store.targets.get(projectId, sync.targetId));
    return targets.get(sync.targetId);
  };

  const cohorts: ExplainedCohort[] = [];
  for (const [cohortId, syncs] of byCohort) {
    const cohort = await store.cohorts.get(projectId, cohortId);
    if (!cohort) continue;
    const member = found ? await store.membership.isMember(cohortId, found.id) : false;
    const explained: ExplainedSync[] = [];
    for (const sync of syncs)
      explained.push(await explainSync(deps, sync, await targetOf(sync), found, member, query, targetOf));
    cohorts.push({ cohortId, cohortName: cohort.name, member, syncs: explained });
  }
  if (byCohort.size === 0) notes.push('No cohort of this project has a sync.');

  const profile: ExplainedProfile | null = found
    ? { id: found.id, userId: found.userId, deviceIds: found.deviceIds, identified: found.userId !== null }
    : null;
  return { projectId, query, profile, cohorts, notes };
}

/** The keys a mapping gives a member, or none for a non-member. */
function wantedKeys(mapping: Mapping | undefined, profile: ProfileRecord | undefined, member: boolean): Set<string> {
  if (!mapping || !profile || !member) return new Set();
  const r = resolveIdentifiers(profile, mapping);
  return new Set(r.ok ? r.identifiers.map(identifierKey) : []);
}

async function explainSync(
  deps: ExplainDeps,
  sync: Sync,
  target: Target | undefined,
  profile: ProfileRecord | undefined,
  member: boolean,
  query: { userId?: string; deviceId?: string },
  targetOf: (s: Sync) => Promise<Target | undefined>,
): Promise<ExplainedSync> {
  const { store } = deps;
  const mapping = target?.mapping;
  const resolution = mapping && profile ? resolveIdentifiers(profile, mapping) : null;
  const wanted = wantedKeys(mapping, profile, member);

  // What the other syncs of the same Braze cohort want keeps an identifier in Braze too (docs/design.md §8).
  const wantedByOthers = new Set<string>();
  for (const other of await store.syncs.listByAudience(sync.audienceRef)) {
    if (other.id === sync.id) continue;
    for (const key of wantedKeys((await targetOf(other))?.mapping, profile, member)) wantedByOthers.add(key);
  }

  // Identifiers to show: what the mapping wants now (or would give a non-member), what Braze holds for this
  // profile, and (no profile) what Braze may still hold under the very id that was asked about.
  const acked = new Map<string, { runId: string; ackedAt: string }>();
  const held = profile
    ? await store.audiences.ackedForProfile(sync.audienceRef, profile.id)
    : await store.audiences.ackedFor(sync.audienceRef, [
        ...(query.userId !== undefined ? [`e:${query.userId}`] : []),
        ...(query.deviceId !== undefined ? [`d:${query.deviceId}`] : []),
      ]);
  for (const h of held) acked.set(h.key, { runId: h.runId, ackedAt: h.ackedAt });
  const missing = [...wanted].filter((k) => !acked.has(k));
  for (const h of await store.audiences.ackedFor(sync.audienceRef, missing))
    acked.set(h.key, { runId: h.runId, ackedAt: h.ackedAt });
  // For a non-member, what the mapping would give them: the history of those identifiers (a removal, say).
  const wouldBe = resolution?.ok ? resolution.identifiers.map(identifierKey) : [];
  const keys = [...new Set([...wanted, ...acked.keys(), ...wouldBe])].sort();

  const identifiers: ExplainedIdentifier[] = [];
  for (const key of keys) {
    const id = parseIdentifierKey(key);
    const ack = acked.get(key) ?? null;
    const isWanted = wanted.has(key);
    const state: IdentifierState = isWanted
      ? ack
        ? 'in_braze'
        : 'pending_add'
      : ack
        ? wantedByOthers.has(key)
          ? 'kept_by_other_sync'
          : 'pending_removal'
        : 'not_in_braze';
    const touch = await store.planning.lastTouch(sync.audienceRef, key);
    const touchedRun = touch ? await store.runs.getById(touch.runId) : undefined;
    identifiers.push({
      ...describeIdentifier(id),
      wanted: isWanted,
      state,
      acknowledged: ack,
      lastRun: touch
        ? {
            runId: touch.runId,
            operation: touch.operation,
            outcome: touch.status,
            error: touch.error,
            at: touch.ackedAt ?? touchedRun?.finishedAt ?? touchedRun?.startedAt ?? null,
            runStatus: touchedRun?.status ?? null,
            runTrigger: touchedRun?.trigger ?? null,
          }
        : null,
      brazeRule: target ? deps.destinations.get(target.delivery).explainRule(id, profile?.userId ?? null) : '',
    });
  }

  const last = (await store.runs.list(sync.projectId, { syncId: sync.id }, 1, null)).items[0];
  const skipped =
    member && resolution && !resolution.ok
      ? { reason: resolution.reason, message: SKIP_REASON_TEXT[resolution.reason] }
      : null;
  return {
    syncId: sync.id,
    targetId: sync.targetId,
    targetName: target?.name ?? null,
    cadence: sync.cadence,
    paused: sync.paused,
    nextRunAt: sync.nextRunAt,
    mapping: mapping ?? null,
    via: resolution?.ok ? resolution.via : null,
    skipped,
    identifiers,
    lastRun: last ? { id: last.id, status: last.status, trigger: last.trigger, finishedAt: last.finishedAt } : null,
    summary: summarize(
      sync,
      target && { ...target, product: deps.destinations.get(target.delivery).product },
      member,
      skipped,
      identifiers,
    ),
  };
}

function when(sync: Sync): string {
  if (sync.paused) return 'when the sync is resumed';
  if (sync.cadence === 'real_time') return 'within seconds (real-time sync)';
  if (sync.nextRunAt) return `at the next run (${sync.nextRunAt})`;
  return 'at the next run (run it now: the sync has no scheduled run)';
}

function summarize(
  sync: Sync,
  target: (Target & { product: string }) | undefined,
  member: boolean,
  skipped: ExplainedSync['skipped'],
  ids: readonly ExplainedIdentifier[],
): string {
  if (!target) return 'The target of this sync no longer exists: nothing is sent.';
  const show = (i: ExplainedIdentifier) => `${i.kind} "${i.value}"`;
  const inBraze = ids.filter((i) => i.state === 'in_braze');
  const adding = ids.filter((i) => i.state === 'pending_add');
  const removing = ids.filter((i) => i.state === 'pending_removal');
  const parts: string[] = [];
  if (!member) parts.push('Not a member of the cohort.');
  else if (skipped) parts.push(`A member, but skipped: ${skipped.message}.`);
  if (inBraze.length > 0)
    parts.push(
      `Sent to ${target.product} and acknowledged: ${inBraze.map(show).join(', ')}; ${target.product} shows the user in the segment only if that user already exists in ${target.product}.`,
    );
  if (adding.length > 0) parts.push(`Not sent yet: ${adding.map(show).join(', ')} will be added ${when(sync)}.`);
  if (removing.length > 0)
    parts.push(`Still in ${target.product}: ${removing.map(show).join(', ')} will be removed ${when(sync)}.`);
  if (member && !skipped && inBraze.length + adding.length === 0)
    parts.push('The mapping gives no identifier that is wanted.');
  return parts.join(' ');
}
