// Row types of every table, for Kysely. Timestamps are ISO-8601 text and booleans 0/1 on both engines, so
// the repositories read the same shapes from SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface ProjectsTable {
  id: string;
  name: string;
  ingest_key_enc: string;
  ingest_key_hash: string;
  braze_enabled: number;
  notification_emails: string; // JSON array
  webhook_url: string | null;
  webhook_secret_enc: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiTokensTable {
  id: string;
  project_id: string;
  role: string;
  token_hash: string;
  created_at: string;
  name: string | null;
  /** null for tokens made before hints existed. */
  hint: string | null;
  last_used_at: string | null;
  expires_at: string | null;
}

export interface BrazeTargetsTable {
  id: string;
  project_id: string;
  name: string;
  endpoint: string;
  data_import_key_enc: string;
  key_hint: string;
  /** HMAC of endpoint + key: targets with equal workspace keys share Braze cohorts (docs/product.md §4). */
  workspace_key: string;
  mapping: string; // JSON Mapping
  /** cohort_import | custom_attribute (migration 0010). */
  delivery: Generated<string>;
  attribute: string | null; // JSON AttributeSettings, custom_attribute only
  created_at: string;
  updated_at: string;
}

export interface ProfilesTable {
  id: Generated<number>;
  project_id: string;
  user_id: string | null;
  properties: string; // JSON object
  created_at: string;
  updated_at: string;
}

export interface ProfileDevicesTable {
  project_id: string;
  device_id: string;
  profile_id: number;
}

export interface CohortsTable {
  id: string;
  project_id: string;
  name: string;
  type: string;
  definition: string | null;
  size: number;
  created_at: string;
  updated_at: string;
}

export interface CohortMembersTable {
  cohort_id: string;
  profile_id: number;
}

/** Append-only log of membership and identity changes; real-time syncs read it by sequence. */
export interface MemberChangesTable {
  seq: Generated<number>;
  project_id: string;
  cohort_id: string | null; // null: an identity change that concerns every cohort of the profile
  profile_id: number;
  at: string;
}

export interface SyncsTable {
  id: string;
  project_id: string;
  cohort_id: string;
  target_id: string;
  braze_cohort_ref: string;
  cadence: string;
  cron: string | null;
  paused: number;
  notify_emails: string; // JSON array
  next_run_at: string | null;
  /** custom_attribute syncs: the attribute written, and its value in array style (migration 0010). */
  attribute_name: string | null;
  attribute_value: string | null;
  created_at: string;
  updated_at: string;
}

/** A cohort in one Braze workspace: the unit of acknowledged state and of run coordination. */
export interface BrazeCohortsTable {
  id: string;
  project_id: string;
  workspace_key: string;
  cohort_id: string;
  named_as: string | null;
  created_at: string;
  /** Run coordination (docs/architecture.md): one lease holder at a time; acknowledgements carry the fence. */
  lease_owner: string | null;
  lease_until: string | null;
  fence: number;
  dirty: number;
  change_seq: number;
  /**
   * The plan inputs (src/domain/incremental.ts planBasis) under which the acknowledged state is a full plan's
   * result for every profile unchanged since change_seq; null when it is not known to be (migration 0120).
   */
  plan_basis: string | null;
  /** When the last full reconcile that set plan_basis started planning. */
  reconciled_at: string | null;
}

export interface BrazeIdentifiersTable {
  braze_cohort_id: string;
  ident_key: string;
  profile_id: number | null;
  run_id: string;
  acked_at: string;
  /** 0 until copied into braze_identifier_profiles (src/adapters/store/acked-by-profile.ts). */
  settled: Generated<number>;
}

/** braze_identifiers by profile, in profile order; entries are verified against braze_identifiers. */
export interface BrazeIdentifierProfilesTable {
  braze_cohort_id: string;
  profile_id: number;
  ident_key: string;
}

export interface RunsTable {
  id: string;
  project_id: string;
  sync_id: string;
  braze_cohort_id: string;
  status: string;
  trigger: string;
  phase: string; // queued | planning | sending | done
  mode: string; // full | remove_all
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  added: number;
  removed: number;
  skipped: number;
  failed: number;
  requests: number;
  retries: number;
  skip_reasons: string; // JSON {reason: count}
  total_batches: number;
  error_code: string | null;
  error_message: string | null;
  /** Identifiers sent, beside the user counts added/removed (migration 0010). */
  identifiers_added: Generated<number>;
  identifiers_removed: Generated<number>;
  /** member_changes position seen when the run planned; change_seq advances to it on success. */
  change_seq_to: number | null;
  /** 1 when a full reconcile was asked for (API `reconcile`, CLI `--full`). */
  reconcile: Generated<number>;
  /** How the run planned: 'cohort' (re-read every member) or 'changes' (the change log); null before. */
  planned_from: string | null;
  /** The plan inputs of a run that re-read the cohort; the Braze cohort's plan_basis on success. */
  plan_basis: string | null;
}

export interface RunBatchesTable {
  run_id: string;
  seq: number;
  payload: string; // JSON {add: [[key, profileId]], remove: [...]}
  size: number;
  status: string; // pending | acked | failed
  error: string | null;
  acked_at: string | null;
  /** SQLite: JSON {add?, remove?, fail?} of the profile ids this batch counted first (src/adapters/store/run-counts.ts). */
  counted?: string | null;
}

/** Identifiers a 2xx answer named as failed (its errors[]); not acknowledged, so the next run sends them again. */
export interface RunItemFailuresTable {
  run_id: string;
  seq: number;
  ident_key: string;
  profile_id: number | null;
  reason: string;
}

/** Which users a run already counted per operation, so counts mean users however many identifiers each has. */
export interface RunCountedUsersTable {
  run_id: string;
  op: string; // add | remove | fail
  unit: string; // profile id, or the identifier key when the identifier has no profile
}

export interface RunSkipsTable {
  run_id: string;
  profile_id: number;
  reason: string;
}

export interface RunRequestsTable {
  id: Generated<number>;
  run_id: string;
  at: string;
  entry: string; // JSON RequestLogEntry, keys redacted
}

export interface PlanDesiredTable {
  run_id: string;
  ident_key: string;
  profile_id: number | null;
  active: number;
}

/** The changed profiles an incremental run plans for (real-time syncs). */
export interface PlanProfilesTable {
  run_id: string;
  profile_id: number;
}

/** An incremental plan's candidates for removal: acknowledged keys its changed profiles may no longer want. */
export interface PlanCandidatesTable {
  run_id: string;
  ident_key: string;
  profile_id: number | null;
}

/** One ingested Amplitude event (docs/ingestion.md); `data` holds every field without a column. */
export interface EventsTable {
  id: Generated<number>;
  project_id: string;
  profile_id: number;
  event_type: string;
  time_ms: number;
  insert_id: string | null;
  user_id: string | null;
  device_id: string | null;
  event_properties: Generated<string>; // JSON object, default {}
  user_properties: Generated<string>; // JSON object as sent, default {}
  data: string; // JSON object
  received_ms: number;
}

/** insert_ids seen per device (else user) in the last 7 days. */
export interface EventDedupeTable {
  project_id: string;
  scope: string;
  insert_id: string;
  at_ms: number;
}

export interface Database {
  events: EventsTable;
  event_dedupe: EventDedupeTable;
  projects: ProjectsTable;
  api_tokens: ApiTokensTable;
  braze_targets: BrazeTargetsTable;
  profiles: ProfilesTable;
  profile_devices: ProfileDevicesTable;
  cohorts: CohortsTable;
  cohort_members: CohortMembersTable;
  member_changes: MemberChangesTable;
  syncs: SyncsTable;
  braze_cohorts: BrazeCohortsTable;
  braze_identifiers: BrazeIdentifiersTable;
  braze_identifier_profiles: BrazeIdentifierProfilesTable;
  runs: RunsTable;
  run_batches: RunBatchesTable;
  run_skips: RunSkipsTable;
  run_item_failures: RunItemFailuresTable;
  run_counted_users: RunCountedUsersTable;
  run_requests: RunRequestsTable;
  plan_desired: PlanDesiredTable;
  plan_profiles: PlanProfilesTable;
  plan_candidates: PlanCandidatesTable;
}
