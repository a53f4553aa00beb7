// Repositories the app layer needs. Each is narrow; use cases take only the ones they use.

import type { PlannedBatch, PlannedIdentifier } from '../domain/batching.ts';
import type { Definition } from '../domain/behavioral.ts';
import type { Mapping } from '../domain/mapping.ts';
import type {
  BrazeCohort,
  Cadence,
  Cohort,
  CohortType,
  MemberInput,
  PlannedFrom,
  Project,
  Role,
  Run,
  RunMode,
  RunStatus,
  RunTrigger,
  Sync,
  Target,
} from '../domain/model.ts';
import type { EventStore } from './event-store.ts';
import type { NotificationStateRepo, WebhookDeliveriesRepo } from './notification-store.ts';

import type { Page } from './page.ts';

export type { Page };

export interface ProjectsRepo {
  create(p: { id: string; name: string; ingestKeyEnc: string; ingestKeyHash: string; now: string }): Promise<Project>;
  get(id: string): Promise<Project | undefined>;
  list(ids?: readonly string[]): Promise<Project[]>;
  update(
    id: string,
    patch: {
      name?: string;
      notificationEmails?: readonly string[];
      brazeEnabled?: boolean;
      webhookUrl?: string | null;
      webhookSecretEnc?: string | null;
    },
    now: string,
  ): Promise<Project | undefined>;
  ingestKeyEnc(id: string): Promise<string | undefined>;
  webhookSecretEnc(id: string): Promise<string | null>;
  findByIngestKeyHash(hash: string): Promise<Project | undefined>;
  /** Replaces the ingest key: the old one stops working at once. */
  setIngestKey(id: string, key: { ingestKeyEnc: string; ingestKeyHash: string }, now: string): Promise<boolean>;
}

/** A project token as listed: never its hash or value. */
export interface TokenRecord {
  readonly id: string;
  readonly projectId: string;
  readonly role: Exclude<Role, 'admin'>;
  readonly name: string | null;
  /** `…last4` of the token. */
  readonly hint: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly expiresAt: string | null;
}

export interface TokensRepo {
  create(t: {
    id: string;
    projectId: string;
    role: Exclude<Role, 'admin'>;
    tokenHash: string;
    now: string;
    name?: string | null;
    hint?: string;
    expiresAt?: string | null;
  }): Promise<void>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  list(projectId: string): Promise<TokenRecord[]>;
  /** Deletes the token (it stops working at once); false when the project has no such token. */
  revoke(projectId: string, tokenId: string): Promise<boolean>;
  /** Records a use; callers throttle it (one write per token per minute is plenty). */
  touch(tokenId: string, now: string): Promise<void>;
}

export interface TargetsRepo {
  /** `secretEnc`: the target's key (Data Import Key or REST API key), encrypted. */
  create(t: Target & { secretEnc: string }): Promise<Target>;
  get(projectId: string, id: string): Promise<Target | undefined>;
  findByName(projectId: string, name: string): Promise<Target | undefined>;
  list(projectId: string): Promise<Target[]>;
  update(
    projectId: string,
    id: string,
    patch: { endpoint?: string; secretEnc?: string; keyHint?: string; workspaceKey?: string },
    now: string,
  ): Promise<Target | undefined>;
  delete(projectId: string, id: string): Promise<void>;
  /** The encrypted key, only for building a destination call. */
  secretOf(id: string): Promise<string | undefined>;
}

export interface ProfileRecord {
  readonly id: number;
  readonly userId: string | null;
  readonly deviceIds: string[];
  readonly properties: Record<string, unknown>;
}

export interface MemberChangeResult {
  readonly added: number;
  readonly removed: number;
}

export interface MembershipRepo {
  /** Finds or creates the profile each member names (identifying anonymous profiles), then adds or removes it. */
  applyMembers(
    projectId: string,
    cohortId: string,
    op: 'add' | 'remove',
    members: readonly MemberInput[],
    now: string,
  ): Promise<MemberChangeResult>;
  /** applyMembers for members named by a user id alone (checked already), as one set: the result is the same. */
  applyUsers(
    projectId: string,
    cohortId: string,
    op: 'add' | 'remove',
    userIds: readonly string[],
    now: string,
  ): Promise<MemberChangeResult>;
  /** Replace membership in a stream: begin, append chunks, then commit swaps it in atomically. */
  beginReplace(projectId: string, cohortId: string): Promise<string>;
  /** Stages checked members: `userIds` named by a user id alone, `members` any others. */
  appendReplace(
    importId: string,
    projectId: string,
    batch: { readonly userIds: readonly string[]; readonly members: readonly MemberInput[] },
    now: string,
  ): Promise<void>;
  commitReplace(importId: string, projectId: string, cohortId: string, now: string): Promise<MemberChangeResult>;
  abortReplace(importId: string): Promise<void>;
  listMembers(cohortId: string, limit: number, cursor: string | null): Promise<Page<ProfileRecord>>;
  findProfile(projectId: string, by: { userId?: string; deviceId?: string }): Promise<ProfileRecord | undefined>;
  isMember(cohortId: string, profileId: number): Promise<boolean>;
  cohortSize(cohortId: string): Promise<number>;
}

export interface CohortsRepo {
  create(c: {
    id: string;
    projectId: string;
    name: string;
    type: CohortType;
    definition: unknown;
    now: string;
  }): Promise<Cohort>;
  get(projectId: string, id: string): Promise<Cohort | undefined>;
  list(projectId: string): Promise<Cohort[]>;
  update(
    projectId: string,
    id: string,
    patch: { name?: string; definition?: unknown },
    now: string,
  ): Promise<Cohort | undefined>;
  delete(projectId: string, id: string): Promise<void>;
}

export interface SyncsRepo {
  create(s: Omit<Sync, 'paused'> & { paused?: boolean }): Promise<Sync>;
  get(projectId: string, id: string): Promise<Sync | undefined>;
  getById(id: string): Promise<Sync | undefined>;
  list(projectId: string, filter?: { cohortId?: string; targetId?: string }): Promise<Sync[]>;
  listByAudience(brazeCohortId: string): Promise<Sync[]>;
  update(
    projectId: string,
    id: string,
    patch: {
      paused?: boolean;
      cadence?: Cadence;
      cron?: string | null;
      notifyEmails?: readonly string[];
      nextRunAt?: string | null;
    },
    now: string,
  ): Promise<Sync | undefined>;
  delete(projectId: string, id: string): Promise<void>;
  /** Syncs whose next_run_at has passed; the caller sets the next time. */
  due(now: string, limit: number): Promise<Sync[]>;
  /**
   * Moves next_run_at from `expected` to `next` if it still is `expected` and the sync is not paused: the one
   * scheduler whose UPDATE matches requests the run, so schedulers ticking at once never both request it.
   */
  claimDue(id: string, expected: string, next: string | null, now: string): Promise<boolean>;
}

/**
 * The destination-side audiences (a Braze cohort in cohort_import mode, an attribute value in custom_attribute
 * mode; table braze_cohorts): their leases and the state the destination acknowledged, shared by every sync
 * that delivers the same cohort into the same workspace.
 */
export interface AudiencesRepo {
  ensure(b: {
    id: string;
    projectId: string;
    workspaceKey: string;
    cohortId: string;
    now: string;
  }): Promise<BrazeCohort>;
  get(id: string): Promise<BrazeCohort | undefined>;
  markNamed(id: string, name: string): Promise<void>;
  /** Takes the lease when free or expired; returns the new fence, or null when another owner holds it. */
  acquireLease(id: string, owner: string, now: Date, ttlMs: number): Promise<number | null>;
  renewLease(id: string, fence: number, now: Date, ttlMs: number): Promise<boolean>;
  /** Releases the lease unless a run was requested meanwhile (dirty); returns whether it was released. */
  releaseLease(id: string, fence: number): Promise<boolean>;
  /** Lets go of a lease at once (a graceful stop), so another worker resumes without waiting for expiry. */
  abandonLease(id: string, fence: number): Promise<void>;
  /**
   * Voids every lease at once, for a store this process owns alone (the embedded store under its DATA_DIR
   * lock): whoever held them is gone, so the work they left resumes now instead of after the leases' TTL.
   * Fences still advance on the next acquisition. Returns how many leases were held.
   */
  voidLeases(): Promise<number>;
  markDirty(id: string): Promise<void>;
  /** Clears dirty as the holder starts another pass; returns whether it was set. */
  takeDirty(id: string, fence: number): Promise<boolean>;
  /** Braze cohorts with unfinished runs whose lease expired (crash recovery). */
  orphaned(now: Date): Promise<string[]>;
  ackedCount(id: string): Promise<number>;
  ackedFor(id: string, keys: readonly string[]): Promise<{ key: string; runId: string; ackedAt: string }[]>;
  /** Identifiers acknowledged in this Braze cohort for one profile (explain). */
  ackedForProfile(id: string, profileId: number): Promise<{ key: string; runId: string; ackedAt: string }[]>;
}

export interface RunsRepo {
  create(r: {
    id: string;
    projectId: string;
    syncId: string;
    brazeCohortId: string;
    trigger: RunTrigger;
    mode: RunMode;
    now: string;
    /** Ask for a full reconcile (re-read every member), not a plan from the change log. */
    reconcile?: boolean;
  }): Promise<Run>;
  get(projectId: string, id: string): Promise<Run | undefined>;
  getById(id: string): Promise<Run | undefined>;
  list(
    projectId: string,
    filter: { syncId?: string; status?: RunStatus; from?: string; to?: string },
    limit: number,
    cursor: string | null,
  ): Promise<Page<Run>>;
  /** The oldest run of this Braze cohort that is not finished (queued, planning or sending). */
  nextUnfinished(brazeCohortId: string): Promise<Run | undefined>;
  /** A run of this sync still waiting to start, which a new request folds into. */
  queuedFor(syncId: string, mode: RunMode): Promise<Run | undefined>;
  /** Makes a queued run a full reconcile; undefined when it is no longer queued (it may have planned). */
  askReconcile(id: string): Promise<Run | undefined>;
  /** Batches done (acknowledged or failed) out of all planned, for progress bars. */
  progress(id: string): Promise<{ done: number; total: number }>;
  start(id: string, now: string): Promise<void>;
  setPlanned(
    id: string,
    totals: { totalBatches: number; skipped: number; skipReasons: Record<string, number> },
  ): Promise<void>;
  addStats(id: string, delta: { requests?: number; retries?: number }): Promise<void>;
  finish(id: string, status: RunStatus, now: string, error?: { code: string; message: string } | null): Promise<Run>;
  logRequest(runId: string, at: string, entry: unknown): Promise<void>;
  requests(runId: string, limit: number, cursor: string | null): Promise<Page<{ at: string; entry: unknown }>>;
  prune(before: string): Promise<number>;
}

export interface StoredBatch {
  readonly seq: number;
  readonly batch: PlannedBatch;
}

export interface SyncPlanInput {
  readonly mapping: Mapping;
  readonly cohortId: string;
  /** Active syncs ask for adds; paused ones only protect what they want from removal. */
  readonly active: boolean;
}

export interface PlanningRepo {
  /** Materialises the union of what the Braze cohort's syncs want (resolved in the store, in bulk). */
  stageDesired(runId: string, syncs: readonly SyncPlanInput[]): Promise<void>;
  /** Counts members the active syncs' mappings give nothing, by reason, recording up to `keep` of them. */
  recordSkips(runId: string, syncs: readonly SyncPlanInput[], keep: number): Promise<Record<string, number>>;
  /** Pages of desired-but-not-acknowledged identifiers, in key order after `after`. */
  pageAdds(runId: string, brazeCohortId: string, after: string | null, limit: number): Promise<PlannedIdentifier[]>;
  /** Pages of acknowledged-but-not-desired identifiers. */
  pageRemoves(runId: string, brazeCohortId: string, after: string | null, limit: number): Promise<PlannedIdentifier[]>;
  clearStaged(runId: string): Promise<void>;
  /** Deletes a run's batches (re-planning after a crash mid-plan). */
  clearBatches(runId: string): Promise<void>;
  appendBatch(runId: string, seq: number, batch: PlannedBatch): Promise<void>;
  pendingBatches(runId: string, afterSeq: number, limit: number): Promise<StoredBatch[]>;
  /** Records a delivered batch and the identifiers it changes, atomically, only while `fence` holds the lease. */
  /** `note` keeps the per-identifier errors a 2xx answer carried (docs/design.md §1), shown in members.csv. */
  ackBatch(a: {
    runId: string;
    brazeCohortId: string;
    seq: number;
    fence: number;
    batch: PlannedBatch;
    now: string;
    requests: number;
    retries: number;
    note?: string | null;
    /** Items of the batch the answer failed (not in `batch`, which holds what was delivered), with reasons. */
    failed?: readonly { key: string; profileId: number | null; reason: string }[];
  }): Promise<boolean>;
  failBatch(a: {
    runId: string;
    seq: number;
    fence: number;
    brazeCohortId: string;
    error: string;
    batch: PlannedBatch;
    requests: number;
    retries: number;
  }): Promise<boolean>;
  /** Acknowledged batches' identifiers of a run, for members.csv, in batch order. */
  runBatches(
    runId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ seq: number; status: string; error: string | null; batch: PlannedBatch }[]>;
  runSkips(runId: string, afterProfile: number, limit: number): Promise<{ profileId: number; reason: string }[]>;
  profiles(ids: readonly number[]): Promise<Map<number, { userId: string | null; deviceIds: string[] }>>;

  // ---- Real-time syncs: the member_changes log and incremental plans (src/app/incremental.ts) ----
  /**
   * The highest member_changes seq at or below which every change is committed and visible, or null when
   * that cannot be established right now (PostgreSQL: a long transaction is still writing changes).
   */
  changeHighWater(): Promise<number | null>;
  /** Records the member_changes position a run planned from; the Braze cohort advances to it on success. */
  setChangeMark(runId: string, seq: number | null): Promise<void>;
  /** change_seq := the run's change mark, never backwards; a run without a mark changes nothing. */
  advanceChangeSeq(brazeCohortId: string, runId: string): Promise<void>;
  changeSeq(brazeCohortId: string): Promise<number>;
  /**
   * The plan inputs (src/domain/incremental.ts planBasis) under which the Braze cohort's acknowledged state is
   * a full plan's result, and when that full reconcile started; basis null when not known.
   */
  planBasis(brazeCohortId: string): Promise<{ basis: string | null; reconciledAt: string | null }>;
  /** Forgets the Braze cohort's plan basis: a run under other inputs is about to change its acknowledged state. */
  forgetPlanBasis(brazeCohortId: string): Promise<void>;
  /** Records how a run planned; a run that re-read the cohort also records its plan basis. */
  setRunPlan(runId: string, plannedFrom: PlannedFrom, basis: string | null): Promise<void>;
  /** After a run delivered everything: a run that re-read the cohort becomes the Braze cohort's plan basis. */
  recordReconciled(brazeCohortId: string, runId: string): Promise<void>;
  /**
   * Stages the profiles whose changes in (fromSeq, toSeq] concern the Braze cohort: membership changes of its
   * cohort, and identity changes (cohort_id null) of profiles that are members or have identifiers
   * acknowledged in it. Stages at most `limit` (default all). Returns how many profiles were staged.
   */
  stageChangedProfiles(
    runId: string,
    brazeCohortId: string,
    fromSeq: number,
    toSeq: number,
    limit?: number,
  ): Promise<number>;
  /** Like stageDesired, for the staged changed profiles only. */
  stageDesiredFor(runId: string, syncs: readonly SyncPlanInput[]): Promise<void>;
  /** Like recordSkips, among the staged changed profiles only. */
  recordSkipsFor(runId: string, syncs: readonly SyncPlanInput[], keep: number): Promise<Record<string, number>>;
  /**
   * Pages of identifiers to remove among those acknowledged for the staged profiles, or that only they can
   * produce (external_id, device_id, user_id alias), which they no longer want.
   */
  pageRemovesFor(
    runId: string,
    brazeCohortId: string,
    syncs: readonly SyncPlanInput[],
    after: string | null,
    limit: number,
  ): Promise<PlannedIdentifier[]>;
  clearChangedProfiles(runId: string): Promise<void>;
  /** Whether member_changes after the Braze cohort's change_seq concern it (same rule as stageChangedProfiles). */
  hasPendingChanges(brazeCohortId: string): Promise<boolean>;
  /**
   * Real-time, unpaused syncs whose Braze cohort has pending changes and no unfinished run, leaving out
   * Braze cohorts whose last run failed after `failedSince` (the safety-net poll must not hammer a failing
   * Braze). Ids of syncs, one per Braze cohort.
   */
  realtimeSyncsWithPendingChanges(failedSince: string): Promise<string[]>;
  /** Deletes member_changes rows that no Braze cohort with syncs still needs; returns how many. */
  pruneChanges(): Promise<number>;
  /** The newest batch of this Braze cohort's runs that carried `key`, and what it did (explain). */
  lastTouch(brazeCohortId: string, key: string): Promise<IdentifierTouch | undefined>;
}

export interface IdentifierTouch {
  readonly runId: string;
  readonly seq: number;
  readonly operation: 'add' | 'remove';
  /** pending (not sent yet), acked (Braze answered 2xx) or failed (Braze refused the batch). */
  readonly status: 'pending' | 'acked' | 'failed';
  readonly error: string | null;
  readonly ackedAt: string | null;
}

/** Which profiles an evaluation decides: all of the project's, the listed ones, or those whose events aged. */
export type EvaluationScope =
  | { readonly kind: 'all' }
  | {
      readonly kind: 'profiles';
      readonly ids: readonly number[];
      /**
       * Profiles that can only join (domain/behavioral.ts onlyJoinsWithEvents): those already members are
       * left as they are; the others are decided like `ids`.
       */
      readonly joinOnly?: readonly number[];
    }
  /**
   * Profiles with an event that left one of these rolling windows between fromMs and toMs (event time in
   * [fromMs - windowMs, toMs - windowMs)): the only ones whose counts moved with the clock alone.
   */
  | {
      readonly kind: 'aged';
      readonly fromMs: number;
      readonly toMs: number;
      readonly windows: readonly { readonly event: string; readonly windowMs: number }[];
    };

export interface EvaluationInput {
  readonly projectId: string;
  readonly cohortId: string;
  readonly definition: Definition;
  /** The clock every window of this evaluation is read at. */
  readonly nowMs: number;
  readonly retentionDays: number;
  readonly scope: EvaluationScope;
  /** A full evaluation records its own size-history point; real-time changes share one per minute. */
  readonly history: 'evaluation' | 'change';
  /** Rolling windows are swept up to here (the sweeper's next pass starts from it). */
  readonly sweptToMs?: number;
}

/** Behavioral cohorts (src/app/behavioral.ts): evaluation in SQL and the cohorts' size history. */
export interface BehavioralRepo {
  /**
   * Decides membership of the scope's profiles in one transaction and applies the difference like any
   * membership change (cohort_members, member_changes, size). Null when the cohort no longer exists.
   */
  evaluate(input: EvaluationInput): Promise<(MemberChangeResult & { size: number }) | null>;
  /** Several evaluations, in order, in one transaction (a real-time pass over the cohorts of a project). */
  evaluateMany(inputs: readonly EvaluationInput[]): Promise<((MemberChangeResult & { size: number }) | null)[]>;
  /** How many of the project's profiles match a definition now, without saving anything. */
  estimate(projectId: string, definition: Definition, nowMs: number, retentionDays: number): Promise<number>;
  /** For one profile: the matching event count of every event condition, by [group][condition] (0 elsewhere). */
  conditionCounts(profileId: number, definition: Definition, nowMs: number, retentionDays: number): Promise<number[][]>;
  sweptTo(cohortId: string): Promise<number | null>;
  /** How many of these profile ids still exist (fewer: one was merged away). */
  existingProfiles(ids: readonly number[]): Promise<number>;
  sizeHistory(cohortId: string, fromMs: number, toMs: number, limit: number): Promise<{ atMs: number; size: number }[]>;
  /** Drops a deleted cohort's history and sweep state. */
  forget(cohortId: string): Promise<void>;
}

/** Identifiers an acknowledged batch's answer failed one by one (a 2xx with errors[]). */
export interface ItemFailuresRepo {
  /** Reasons by identifier key, for the given batches of a run. */
  forBatches(runId: string, seqs: readonly number[]): Promise<Map<string, string>>;
}

export interface Store {
  readonly projects: ProjectsRepo;
  readonly tokens: TokensRepo;
  readonly targets: TargetsRepo;
  readonly cohorts: CohortsRepo;
  readonly membership: MembershipRepo;
  readonly syncs: SyncsRepo;
  readonly audiences: AudiencesRepo;
  readonly runs: RunsRepo;
  readonly planning: PlanningRepo;
  readonly behavioral: BehavioralRepo;
  readonly itemFailures: ItemFailuresRepo;
  readonly notificationState: NotificationStateRepo;
  readonly webhookDeliveries: WebhookDeliveriesRepo;
  /** One round trip to the engine (readiness, `GET /readyz`); rejects when it cannot be reached. */
  ping(): Promise<void>;
  readonly events: EventStore;
  close(): Promise<void>;
}
