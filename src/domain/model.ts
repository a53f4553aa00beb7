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

export interface Target {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly endpoint: string;
  readonly keyHint: string;
  readonly workspaceKey: string;
  readonly mapping: Mapping;
  readonly createdAt: string;
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
  readonly brazeCohortRef: string;
  readonly cadence: Cadence;
  readonly cron: string | null;
  readonly paused: boolean;
  readonly notifyEmails: readonly string[];
  readonly nextRunAt: string | null;
  readonly createdAt: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type RunTrigger = 'schedule' | 'real_time' | 'manual' | 'resume' | 'delete';
export type RunPhase = 'queued' | 'planning' | 'sending' | 'done';
/** `incremental`: only the members changed since the Braze cohort's change_seq (real-time syncs). */
export type RunMode = 'full' | 'remove_all' | 'incremental';

export interface RunCounts {
  readonly added: number;
  readonly removed: number;
  readonly skipped: number;
  readonly failed: number;
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
  readonly requests: number;
  readonly retries: number;
  readonly skipReasons: Readonly<Record<string, number>>;
  readonly totalBatches: number;
  readonly error: { code: string; message: string } | null;
}

export interface MemberInput {
  readonly user_id?: string;
  readonly device_id?: string;
  readonly properties?: Record<string, unknown>;
}

/** A Braze cohort in one workspace: the unit that owns acknowledged identifiers (product.md §4). */
export interface BrazeCohort {
  readonly id: string;
  readonly projectId: string;
  readonly workspaceKey: string;
  readonly cohortId: string;
  readonly namedAs: string | null;
  readonly createdAt: string;
}

/** `[<prefix>] <cohort name>: <cohort id>` (product.md §4). */
export function brazeCohortName(prefix: string, cohort: { name: string; id: string }): string {
  return `[${prefix}] ${cohort.name}: ${cohort.id}`;
}
