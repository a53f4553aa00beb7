// The one ordered migration set for both engines. Each migration is SQL text per engine; column types
// differ only where the engines do (identity columns, the C collation that keeps key order byte-wise).
import { pgBossQueueSql, pgBossSchemaSql } from '../queue/pg-boss-schema.ts';
import { dialectOf, type Engine, PG_DEDUPE_KEY } from './dialect.ts';

/** What a migration may need to know about where it runs. */
export interface MigrationContext {
  /** PostgreSQL: the schema our tables live in (`current_schema()`); SQLite: 'main'. */
  readonly schema: string;
}

export interface Migration {
  readonly name: string;
  readonly up: (engine: Engine, ctx: MigrationContext) => string[];
}

const identity = (engine: Engine) => dialectOf(engine).identityColumn;
const keyText = (engine: Engine) => dialectOf(engine).keyTextColumn;

export const MIGRATIONS: readonly Migration[] = [
  {
    name: '0001_core',
    up: (e) => [
      `create table projects (
        id text primary key, name text not null, ingest_key_enc text not null, ingest_key_hash text not null unique,
        braze_enabled integer not null default 0, notification_emails text not null default '[]',
        webhook_url text, webhook_secret_enc text, created_at text not null, updated_at text not null)`,
      `create table api_tokens (
        id text primary key, project_id text not null, role text not null, token_hash text not null unique,
        created_at text not null)`,
      `create index api_tokens_project on api_tokens (project_id)`,
      `create table braze_targets (
        id text primary key, project_id text not null, name text not null, endpoint text not null,
        data_import_key_enc text not null, key_hint text not null, workspace_key text not null,
        mapping text not null, created_at text not null, updated_at text not null)`,
      `create unique index braze_targets_name on braze_targets (project_id, name)`,
      `create table profiles (
        id ${identity(e)}, project_id text not null, user_id ${keyText(e)},
        properties text not null default '{}', created_at text not null, updated_at text not null)`,
      `create unique index profiles_user on profiles (project_id, user_id)`,
      `create table profile_devices (
        project_id text not null, device_id ${keyText(e)} not null, profile_id integer not null,
        primary key (project_id, device_id))`,
      `create index profile_devices_profile on profile_devices (profile_id)`,
      `create table cohorts (
        id text primary key, project_id text not null, name text not null, type text not null,
        definition text, size integer not null default 0, created_at text not null, updated_at text not null)`,
      `create index cohorts_project on cohorts (project_id)`,
      `create table cohort_members (
        cohort_id text not null, profile_id integer not null, primary key (cohort_id, profile_id))`,
      `create index cohort_members_profile on cohort_members (profile_id)`,
      `create table member_changes (
        seq ${identity(e)}, project_id text not null, cohort_id text, profile_id integer not null, at text not null)`,
      `create index member_changes_project on member_changes (project_id, seq)`,
      `create table braze_cohorts (
        id text primary key, project_id text not null, workspace_key text not null, cohort_id text not null,
        named_as text, created_at text not null, lease_owner text, lease_until text,
        fence integer not null default 0, dirty integer not null default 0, change_seq integer not null default 0)`,
      `create unique index braze_cohorts_workspace on braze_cohorts (workspace_key, cohort_id)`,
      `create table syncs (
        id text primary key, project_id text not null, cohort_id text not null, target_id text not null,
        braze_cohort_ref text not null, cadence text not null, cron text, paused integer not null default 0,
        notify_emails text not null default '[]', next_run_at text, created_at text not null, updated_at text not null)`,
      `create index syncs_project on syncs (project_id)`,
      `create index syncs_braze_cohort on syncs (braze_cohort_ref)`,
      `create index syncs_due on syncs (next_run_at)`,
      `create table braze_identifiers (
        braze_cohort_id text not null, ident_key ${keyText(e)} not null, profile_id integer,
        run_id text not null, acked_at text not null, primary key (braze_cohort_id, ident_key))`,
      `create index braze_identifiers_profile on braze_identifiers (braze_cohort_id, profile_id)`,
      `create table runs (
        id text primary key, project_id text not null, sync_id text not null, braze_cohort_id text not null,
        status text not null, trigger text not null, phase text not null, mode text not null default 'full',
        queued_at text not null, started_at text, finished_at text,
        added integer not null default 0, removed integer not null default 0, skipped integer not null default 0,
        failed integer not null default 0, requests integer not null default 0, retries integer not null default 0,
        skip_reasons text not null default '{}', total_batches integer not null default 0,
        error_code text, error_message text)`,
      `create index runs_sync on runs (sync_id, queued_at)`,
      `create index runs_braze_cohort on runs (braze_cohort_id, status)`,
      `create table run_batches (
        run_id text not null, seq integer not null, payload text not null, size integer not null,
        status text not null, error text, acked_at text, primary key (run_id, seq))`,
      `create table run_skips (run_id text not null, profile_id integer not null, reason text not null)`,
      `create index run_skips_run on run_skips (run_id, profile_id)`,
      `create table run_requests (id ${identity(e)}, run_id text not null, at text not null, entry text not null)`,
      `create index run_requests_run on run_requests (run_id, id)`,
      `create table plan_desired (
        run_id text not null, ident_key ${keyText(e)} not null, profile_id integer, active integer not null,
        primary key (run_id, ident_key))`,
      `create table member_imports (import_id text not null, profile_id integer not null, primary key (import_id, profile_id))`,
    ],
  },
  {
    // Notifications (docs/product.md §5): per-sync mail state (failure throttling, real-time digests) and the
    // webhook delivery log.
    name: '0002_notifications',
    up: () => [
      `create table notification_state (
        sync_id text primary key, project_id text not null, last_status text, last_error_code text,
        failing_since text, consecutive_failures integer not null default 0, last_failure_mail_at text,
        suppressed_failures integer not null default 0, last_digest_at text, pending_digest text,
        version integer not null default 1, updated_at text not null)`,
      `create table webhook_deliveries (
        id text primary key, project_id text not null, event text not null, url text not null, run_id text,
        status text not null, attempts integer not null default 0, response_status integer, last_error text,
        created_at text not null, updated_at text not null)`,
      `create index webhook_deliveries_project on webhook_deliveries (project_id, created_at, id)`,
    ],
  },
  {
    // Real-time syncs (issue 4): the profiles an incremental run restricts its plan to, and the member_changes
    // position a run has seen at its start (the Braze cohort's change_seq advances to it when the run succeeds).
    name: '0003_realtime',
    up: () => [
      `create table plan_profiles (run_id text not null, profile_id integer not null, primary key (run_id, profile_id))`,
      `alter table runs add column change_seq_to integer`,
    ],
  },
  {
    // Delivery modes (issue 7): a target's mode, its attribute settings and a sync's attribute; per-identifier
    // failures of 2xx answers; run counts in users beside identifiers. Table names stay historical (docs/design.md).
    name: '0010_delivery_modes',
    up: (e) => [
      `alter table braze_targets add column delivery text not null default 'cohort_import'`,
      `alter table braze_targets add column attribute text`,
      `alter table syncs add column attribute_name text`,
      `alter table syncs add column attribute_value text`,
      `create unique index syncs_target_attribute on syncs (target_id, attribute_name, coalesce(attribute_value, ''))`,
      `alter table runs add column identifiers_added integer not null default 0`,
      `alter table runs add column identifiers_removed integer not null default 0`,
      `create table run_item_failures (
        run_id text not null, seq integer not null, ident_key ${keyText(e)} not null, profile_id integer,
        reason text not null, primary key (run_id, ident_key))`,
      `create table run_counted_users (
        run_id text not null, op text not null, unit ${keyText(e)} not null, primary key (run_id, op, unit))`,
    ],
  },
  {
    // Events ingested from Amplitude's SDKs (docs/ingestion.md). `data` keeps every Amplitude field we do not
    // give a column, so nothing sent is dropped. event_dedupe remembers insert_ids per device (else user) for
    // 7 days; its at_ms index lets the pruner find expired keys without a scan.
    name: '0020_events',
    up: (e) => [
      `create table events (
        id ${identity(e)}, project_id text not null, profile_id integer not null,
        event_type ${keyText(e)} not null, time_ms bigint not null, insert_id text, user_id text, device_id text,
        event_properties text not null default '{}', user_properties text not null default '{}',
        data text not null, received_ms bigint not null)`,
      `create index events_type_time on events (project_id, event_type, time_ms)`,
      `create index events_profile on events (profile_id, event_type, time_ms)`,
      `create index events_time on events (project_id, time_ms)`,
      `create table event_dedupe (
        project_id text not null, scope text not null, insert_id text not null, at_ms bigint not null,
        primary key (project_id, scope, insert_id))`,
      `create index event_dedupe_at on event_dedupe (at_ms)`,
    ],
  },
  {
    // Behavioral cohorts (docs/cohorts.md): per-evaluation work tables (scope and desired members, keyed by
    // an evaluation id), the cohorts' size history, and how far each cohort's rolling windows were swept.
    name: '0030_behavioral',
    up: (e) => [
      `create table behavioral_scope (eval_id text not null, profile_id integer not null, primary key (eval_id, profile_id))`,
      `create table behavioral_desired (eval_id text not null, profile_id integer not null, primary key (eval_id, profile_id))`,
      `create table cohort_size_history (
        id ${identity(e)}, cohort_id text not null, at_ms bigint not null, size integer not null, source text not null)`,
      `create index cohort_size_history_cohort on cohort_size_history (cohort_id, at_ms)`,
      `create table behavioral_state (cohort_id text primary key, swept_to_ms bigint not null)`,
    ],
  },
  {
    // pg-boss 10's own schema (docs/deploy.md "Run coordination"), created here so that no worker runs DDL at
    // start, beside ours and named after it, plus the one `short` queue runs are dispatched on.
    name: '0040_pgboss',
    up: (e, ctx) => (e === 'postgres' ? [pgBossSchemaSql(ctx.schema), pgBossQueueSql(ctx.schema)] : []),
  },
  {
    // The shared request budget (docs/deploy.md "One budget per key"): one row per budget key, a GCRA
    // timestamp every process moves in one locked step, timed by the database's clock so machines whose
    // clocks differ still share one pace. Only PostgreSQL needs it: the embedded store has one process.
    name: '0041_rate_limits',
    up: (e) =>
      e === 'postgres'
        ? [
            `create table rate_limits (
              key text primary key, tat_ms double precision not null default 0,
              blocked_until_ms double precision not null default 0,
              pace_interval_ms double precision not null default 0, pace_until_ms double precision not null default 0)`,
            // Returns 0 when the request may go now (its slot taken), else the milliseconds to wait before asking again.
            `create function rate_limit_take(p_key text, p_interval double precision, p_tolerance double precision)
            returns double precision language plpgsql as $$
            declare
              r rate_limits%rowtype;
              t double precision;
              i double precision := p_interval;
              s double precision;
            begin
              select * into r from rate_limits where key = p_key for update;
              if not found then
                insert into rate_limits (key) values (p_key) on conflict (key) do nothing;
                select * into r from rate_limits where key = p_key for update;
              end if;
              -- read the clock only once the row is ours, so a wait for the lock never lets a request in early
              t := extract(epoch from clock_timestamp()) * 1000;
              if t < r.pace_until_ms and r.pace_interval_ms > i then i := r.pace_interval_ms; end if;
              s := greatest(t, r.tat_ms - p_tolerance, r.blocked_until_ms);
              -- not yet: nothing is reserved, so a waiting bulk request never stands in a real-time one's way
              if s > t then return s - t; end if;
              update rate_limits set tat_ms = greatest(r.tat_ms, t) + i where key = p_key;
              return 0;
            end $$`,
          ]
        : [],
  },
  {
    // Acknowledgements that append (docs/embedded-store.md): the (braze cohort, profile) index on
    // braze_identifiers put every acknowledged identifier on a random page of it, and that write cost capped
    // delivery on SQLite. Profiles are now found through braze_identifier_profiles, filled in profile order
    // when a plan needs it ("settling"); rows acknowledged since are marked unsettled and found through a
    // partial index that is appended to.
    name: '0050_acked_by_profile',
    up: (e) => [
      `alter table braze_identifiers add column settled integer not null default 1`,
      `create index braze_identifiers_unsettled on braze_identifiers (braze_cohort_id) where settled = 0`,
      `create table braze_identifier_profiles (
        braze_cohort_id text not null, profile_id integer not null, ident_key ${keyText(e)} not null,
        primary key (braze_cohort_id, profile_id, ident_key))${dialectOf(e).withoutRowid}`,
      `insert into braze_identifier_profiles (braze_cohort_id, profile_id, ident_key)
        select braze_cohort_id, profile_id, ident_key from braze_identifiers where profile_id is not null
        order by braze_cohort_id, profile_id, ident_key`,
      `drop index braze_identifiers_profile`,
    ],
  },
  {
    // Project tokens that expire and say when they were last used (docs/security.md). Independent of
    // 0070_token_details (name and hint), which it may run before or after.
    name: '0060_token_expiry',
    up: () => [
      `alter table api_tokens add column last_used_at text`,
      `alter table api_tokens add column expires_at text`,
    ],
  },
  {
    // Project tokens a person can tell apart and revoke (api.md: GET/DELETE …/tokens): an optional name and
    // the last four characters of the token. Tokens made before this have neither (their hint reads "…").
    name: '0070_token_details',
    up: () => [`alter table api_tokens add column name text`, `alter table api_tokens add column hint text`],
  },
  {
    // Run counts without a random-order index on SQLite (docs/embedded-store.md): each acknowledged batch keeps
    // the profiles it counted first (JSON {add, remove, fail} of profile ids), so a process that resumes a run
    // rebuilds the run's counted users from its batches instead of looking each one up in run_counted_users.
    name: '0100_batch_counted',
    up: () => [`alter table run_batches add column counted text`],
  },
  {
    // Scheduled runs plan from the change log (src/app/incremental.ts): a Braze cohort remembers the plan inputs
    // (its syncs, their mappings and pause states) under which its acknowledged state last was a full plan's
    // result, and when; a run records whether it re-read the cohort (and under which inputs) or planned from
    // the changes, and whether a full reconcile was asked for. plan_candidates holds an incremental plan's
    // candidates for removal, so its pages do not recompute them.
    name: '0120_plan_basis',
    up: (e) => [
      `alter table braze_cohorts add column plan_basis text`,
      `alter table braze_cohorts add column reconciled_at text`,
      `alter table runs add column reconcile integer not null default 0`,
      `alter table runs add column planned_from text`,
      `alter table runs add column plan_basis text`,
      `create table plan_candidates (
        run_id text not null, ident_key ${keyText(e)} not null, profile_id integer, primary key (run_id, ident_key))`,
    ],
  },
  {
    // member_imports (0001) was never written or read: uploads stage their ids in scratch tables instead
    // (docs/embedded-store.md). Dropped so the schema holds only what the code uses.
    name: '0150_drop_member_imports',
    up: () => [`drop table if exists member_imports`],
  },
  {
    // events (project_id, time_ms) served only the retention pruner, which now reads events_type_time type by
    // type (event-repo.ts pruneEvents): one B-tree less to insert into per ingested event on PostgreSQL, ~4-7
    // µs of backend CPU per event in bench/ingest-store.ts (docs/benchmarks.md "Ingestion"). SQLite keeps it
    // (its ingestion path is measured apart).
    name: '0180_pg_drop_events_time',
    up: (e) => (e === 'postgres' ? ['drop index if exists events_time'] : []),
  },
  {
    // event_dedupe's key on PostgreSQL as one uuid hashed from its three texts (dialect.ts PG_DEDUPE_KEY): the
    // index of a random key per ingested event, a quarter of the size. SQLite keeps its primary key (its
    // ingestion path is measured apart).
    name: '0210_pg_event_dedupe_hashed_key',
    up: (e) =>
      e === 'postgres'
        ? [
            `create unique index event_dedupe_key on event_dedupe (${PG_DEDUPE_KEY})`,
            'alter table event_dedupe drop constraint event_dedupe_pkey',
          ]
        : [],
  },
];
