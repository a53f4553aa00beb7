// The API's shapes as the UI reads them (docs/api.md; the OpenAPI document at /api/v1/openapi.json).
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}
export interface Whoami {
  readonly kind: 'admin' | 'project';
  readonly projectId?: string;
  readonly role?: 'editor' | 'viewer';
}
export interface ServerInfo {
  readonly endpoints: { name: string; url: string; kind: 'braze' | 'allowed' | 'sandbox' }[];
  readonly sandbox: { url: string; partner: string } | null;
  readonly mail: { delivery: 'smtp' | 'log'; from: string };
  readonly cohortNamePrefix: string;
}
export interface Project {
  readonly id: string;
  readonly name: string;
  readonly brazeEnabled: boolean;
  readonly notificationEmails: string[];
  readonly createdAt: string;
  readonly ingestKey?: string;
}
export interface ProjectToken {
  readonly id: string;
  readonly role: 'editor' | 'viewer';
  readonly name?: string;
  readonly hint: string;
  readonly createdAt: string;
  readonly lastUsedAt?: string | null;
  readonly expiresAt?: string | null;
}
export type MappingType = 'user_id' | 'device_id' | 'user_alias';
export interface Mapping {
  readonly type: MappingType;
  readonly aliasLabel?: string;
  readonly aliasProperty?: string;
  readonly fallbacks?: Mapping[];
}
export type Delivery = 'cohort_import' | 'custom_attribute';
export interface Target {
  readonly id: string;
  readonly name: string;
  readonly endpoint: string;
  readonly delivery?: Delivery;
  readonly dataImportKeyHint?: string;
  readonly restApiKeyHint?: string;
  readonly mapping: Mapping;
  readonly attribute?: { name?: string; style?: 'array' | 'boolean' };
  readonly createdAt: string;
}
export interface Destination {
  readonly enabled: boolean;
  readonly targets: Target[];
}
export interface Cohort {
  readonly id: string;
  readonly name: string;
  readonly type: 'static' | 'behavioral';
  readonly size: number;
  readonly definition?: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
}
export interface Member {
  readonly user_id?: string;
  readonly device_id?: string;
  readonly device_ids?: string[];
  readonly properties?: Record<string, unknown>;
}
export type Cadence = 'one_time' | 'hourly' | 'daily' | 'cron' | 'real_time';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export interface Counts {
  readonly added: number;
  readonly removed: number;
  readonly skipped: number;
  readonly failed: number;
}
export interface Run {
  readonly id: string;
  readonly syncId: string;
  readonly status: RunStatus;
  readonly trigger: string;
  readonly mode: string;
  readonly phase: string;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly counts: Counts;
  readonly identifiers?: { added: number; removed: number };
  readonly skipReasons: Record<string, number>;
  readonly requests: number;
  readonly retries: number;
  readonly progress: { done: number; total: number };
  readonly error?: { code: string; message: string };
}
export interface Sync {
  readonly id: string;
  readonly cohortId: string;
  readonly targetId: string;
  readonly cadence: Cadence;
  readonly cron?: string;
  readonly paused: boolean;
  readonly brazeCohortId?: string;
  readonly brazeFilter?: string;
  readonly attribute?: { name: string; value?: string };
  readonly lastRun?: Run;
  readonly nextRunAt?: string;
  readonly createdAt: string;
  readonly notifyEmails: string[];
}
export interface PreviewIdentifier {
  readonly kind: string;
  readonly value: string;
  readonly member: { user_id: string | null; device_ids: string[] } | null;
}
export interface Preview {
  readonly add: { count: number; sample: PreviewIdentifier[] };
  readonly remove: { count: number; sample: PreviewIdentifier[] };
  readonly skipped: { count: number; reasons: Record<string, number>; sample: { member: unknown; reason: string }[] };
  readonly batches: number;
  readonly requests: number;
}
export interface RunMember {
  readonly member: { user_id: string | null; device_id: string | null };
  readonly operation: 'add' | 'remove' | 'skip';
  readonly identifier: { kind: string; value: string } | null;
  readonly outcome: 'acked' | 'failed' | 'pending' | 'skipped';
  readonly reason: string | null;
}
export interface RunRequest {
  readonly at: string;
  readonly endpoint: string;
  readonly identifiers: number;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly attempt: number;
  readonly request: unknown;
  readonly response: unknown;
}
export interface DayOfRuns {
  readonly date: string;
  readonly succeeded: number;
  readonly failed: number;
  readonly other: number;
}
export interface SandboxView {
  readonly brazeCohortName: string;
  readonly filter: string;
  readonly workspace: boolean;
  readonly segmentSize: number;
  readonly received: { user_ids: number; device_ids: number; aliases: number };
  readonly members: { user_id: string | null; device_ids: string[]; identifier: string | null; matched: boolean }[];
  readonly cohortSize: number;
}
export interface Webhook {
  readonly url: string | null;
  readonly secretHint?: string;
}
export interface ExplainedIdentifier {
  readonly kind: string;
  readonly value: string;
  readonly wanted: boolean;
  readonly state: string;
  readonly acknowledged: { runId: string; ackedAt: string } | null;
  readonly lastRun: {
    runId: string;
    operation: string;
    outcome: string;
    error: string | null;
    at: string | null;
  } | null;
  readonly brazeRule: string;
}
export interface ExplainedSync {
  readonly syncId: string;
  readonly targetName: string | null;
  readonly cadence: Cadence;
  readonly paused: boolean;
  readonly via: string | null;
  readonly skipped: { reason: string; message: string } | null;
  readonly identifiers: ExplainedIdentifier[];
  readonly lastRun: { id: string; status: string } | null;
}
export interface Explanation {
  readonly profile: { userId: string | null; deviceIds: string[]; identified: boolean } | null;
  readonly cohorts: { cohortId: string; cohortName: string; member: boolean; syncs: ExplainedSync[] }[];
  readonly notes: string[];
}
