// The entities the service manipulates, as the app layer sees them (store rows are mapped to these).
import type { Mapping } from './mapping.ts';

export type Role = 'admin' | 'editor' | 'viewer';

export interface Project {
  readonly id: string;
  readonly name: string;
  readonly brazeEnabled: boolean;
  readonly notificationEmails: readonly string[];
  readonly webhookUrl: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** How a target delivers membership (docs/design.md): a partner cohort, or a custom attribute on profiles. */
export type DeliveryMode = 'cohort_import' | 'custom_attribute';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['cohort_import', 'custom_attribute'];
/** A target created without `delivery` (docs/api.md). */
export const DEFAULT_DELIVERY_MODE: DeliveryMode = 'cohort_import';

/** Custom-attribute targets: one array attribute holding a value per sync, or one boolean attribute per sync. */
export interface AttributeSettings {
  /** The array attribute (default `cohorts`); null in boolean style, where each sync names its own. */
  readonly name: string | null;
  readonly style: 'array' | 'boolean';
}

export interface Target {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly endpoint: string;
  readonly delivery: DeliveryMode;
  /** Hint of the target's key (Data Import Key or REST API key, by delivery mode). */
  readonly keyHint: string;
  readonly workspaceKey: string;
  readonly mapping: Mapping;
  /** custom_attribute targets only. */
  readonly attribute: AttributeSettings | null;
  readonly createdAt: string;
}

/** What a custom_attribute sync writes, fixed at creation: the attribute, and its value in array style. */
export interface SyncAttribute {
  readonly name: string;
  readonly value: string | null;
}

export type CohortType = 'static' | 'behavioral';

export interface Cohort {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly type: CohortType;
  readonly definition: unknown;
  readonly size: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type Cadence = 'one_time' | 'hourly' | 'daily' | 'real_time' | 'cron';

export interface Sync {
  readonly id: string;
  readonly projectId: string;
  readonly cohortId: string;
  readonly targetId: string;
  /** The audience (AudiencesRepo) the sync delivers into; syncs of one cohort and workspace share it. */
  readonly audienceRef: string;
  readonly cadence: Cadence;
  readonly cron: string | null;
  readonly paused: boolean;
  readonly notifyEmails: readonly string[];
  readonly nextRunAt: string | null;
  /** custom_attribute targets only. */
  readonly attribute: SyncAttribute | null;
  readonly createdAt: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type RunTrigger = 'schedule' | 'real_time' | 'manual' | 'resume' | 'delete';
export type RunPhase = 'queued' | 'planning' | 'sending' | 'done';
/** `incremental`: only the members changed since the Braze cohort's change_seq (real-time syncs). */
export type RunMode = 'full' | 'remove_all' | 'incremental';

/** Cohort members (users), however many identifiers each was sent as. */
export interface RunCounts {
  readonly added: number;
  readonly removed: number;
  readonly skipped: number;
  readonly failed: number;
}

/** What was sent: a member may carry several identifiers (a device_id mapping sends external ids too). */
export interface IdentifierCounts {
  readonly added: number;
  readonly removed: number;
}

export interface Run {
  readonly id: string;
  readonly projectId: string;
  readonly syncId: string;
  readonly brazeCohortId: string;
  readonly status: RunStatus;
  readonly trigger: RunTrigger;
  readonly phase: RunPhase;
  readonly mode: RunMode;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly counts: RunCounts;
  readonly identifiers: IdentifierCounts;
  readonly requests: number;
  readonly retries: number;
  readonly skipReasons: Readonly<Record<string, number>>;
  readonly totalBatches: number;
  readonly error: { code: string; message: string } | null;
  /** A full reconcile was asked for: the run re-reads every member rather than plan from the change log. */
  readonly reconcile: boolean;
  /** How the run planned: `cohort` (every member re-read) or `changes` (the change log); null before planning. */
  readonly plannedFrom: PlannedFrom | null;
}

export type PlannedFrom = 'cohort' | 'changes';

export interface MemberInput {
  readonly user_id?: string;
  readonly device_id?: string;
  readonly properties?: Record<string, unknown>;
}

/** A Braze cohort in one workspace: the unit that owns acknowledged identifiers (docs/design.md §8). */
export interface BrazeCohort {
  readonly id: string;
  readonly projectId: string;
  readonly workspaceKey: string;
  readonly cohortId: string;
  readonly namedAs: string | null;
  readonly createdAt: string;
}

/** `[<prefix>] <cohort name>: <cohort id>` (docs/design.md §8). */
export function brazeCohortName(prefix: string, cohort: { name: string; id: string }): string {
  return `[${prefix}] ${cohort.name}: ${cohort.id}`;
}
