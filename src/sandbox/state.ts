// Everything the sandbox holds, behind one object: workspaces (by Data Import Key), the hourly budget, the
// fault queue and the request log. The admin HTTP routes are thin wrappers over these methods, so tests
// may call them in-process or over HTTP and get the same behaviour and the same errors.
import { randomUUID } from 'node:crypto';
import { BurstBudget } from './burst-budget.ts';
import { badRequest, notFound } from './errors.ts';
import { FaultQueue, type FaultSpec, type QueuedFault } from './faults.ts';
import { HourlyBudget } from './rate-limit.ts';
import { type LoggedRequest, RequestLog, type RequestStats } from './request-log.ts';
import { parseSeedUsers } from './seed-users.ts';
import type { ProfileView, SeedUser } from './user-store.ts';
import { type CohortIdentifiers, type CohortSummary, Workspace, type WorkspaceRecord } from './workspace.ts';

export interface SandboxStateOptions {
  readonly partnerSlug: string;
  readonly partnerKeys: readonly string[];
  readonly requestsPerHour: number;
  /** Length of a budget window (default an hour); `requestsPerHour` is then the budget of one window. */
  readonly budgetWindowMs?: number;
  /** /users/track burst limit per REST API key; default 3,000 per 3 s. */
  readonly trackBurst?: { readonly requests: number; readonly windowMs: number };
  readonly now: () => number;
}

/** A REST API key and what it may do; keys are bound to one workspace, as in Braze. */
export interface RestKey {
  readonly key: string;
  readonly workspace: Workspace;
  readonly permissions: ReadonlySet<string>;
}

/** What survives a restart (snapshot.ts): workspaces with their users and cohorts, and the REST API keys. */
export interface SandboxRecords {
  readonly workspaces: readonly WorkspaceRecord[];
  readonly restKeys: readonly {
    readonly key: string;
    readonly dataImportKey: string;
    readonly permissions: readonly string[];
  }[];
}

export const DEFAULT_TRACK_BURST = { requests: 3_000, windowMs: 3_000 } as const;

export interface WorkspaceSummary {
  dataImportKey: string;
  users: number;
  cohorts: number;
}

export class SandboxState {
  readonly partnerSlug: string;
  readonly partnerKeys: ReadonlySet<string>;
  readonly now: () => number;
  readonly budget: HourlyBudget;
  readonly faults = new FaultQueue();
  readonly log = new RequestLog();
  readonly trackBudget: BurstBudget;
  private readonly initialBudget: number;
  private readonly initialBurst: { readonly requests: number; readonly windowMs: number };
  private readonly workspaces = new Map<string, Workspace>();
  private readonly restKeys = new Map<string, RestKey>();
  private readonly changeListeners: (() => void)[] = [];

  constructor(options: SandboxStateOptions) {
    this.partnerSlug = options.partnerSlug;
    this.partnerKeys = new Set(options.partnerKeys);
    this.now = options.now;
    this.initialBudget = options.requestsPerHour;
    this.budget = new HourlyBudget(options.requestsPerHour, options.now, options.budgetWindowMs);
    this.initialBurst = options.trackBurst ?? DEFAULT_TRACK_BURST;
    this.trackBudget = new BurstBudget(this.initialBurst.requests, this.initialBurst.windowMs, options.now);
  }

  // ---- persistence (snapshot.ts) ---------------------------------------------------------------------

  /** Calls `listener` after every change worth persisting (workspaces, users, cohorts, keys, reset). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells the listeners something changed; the partner and /users/track handlers call it after applying. */
  changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  records(): SandboxRecords {
    return {
      workspaces: [...this.workspaces.values()].map((w) => w.record()),
      restKeys: [...this.restKeys.values()].map((k) => ({
        key: k.key,
        dataImportKey: k.workspace.dataImportKey,
        permissions: [...k.permissions],
      })),
    };
  }

  /** Replaces workspaces and keys with `records` (on start, from the snapshot file). */
  restore(records: SandboxRecords): void {
    this.workspaces.clear();
    this.restKeys.clear();
    for (const w of records.workspaces) this.workspaces.set(w.dataImportKey, Workspace.fromRecord(w));
    for (const k of records.restKeys) {
      const workspace = this.workspaces.get(k.dataImportKey);
      if (workspace) this.restKeys.set(k.key, { key: k.key, workspace, permissions: new Set(k.permissions) });
    }
  }

  // ---- REST API keys (/users/track) -------------------------------------------------------------------

  /**
   * Creates a REST API key for a workspace (random unless given) with the given permissions (default
   * users.track). Asking again for an existing key of the same workspace returns it unchanged.
   */
  createRestKey(dataImportKey: string, opts: { restApiKey?: unknown; permissions?: unknown } = {}): RestKey {
    const workspace = this.workspace(dataImportKey);
    const { restApiKey, permissions } = opts;
    if (restApiKey !== undefined && (typeof restApiKey !== 'string' || restApiKey.length === 0))
      throw badRequest('restApiKey must be a non-empty string');
    if (permissions !== undefined && (!Array.isArray(permissions) || !permissions.every((p) => typeof p === 'string')))
      throw badRequest('permissions must be an array of strings');
    const key = (restApiKey as string | undefined) ?? `sandbox-rest-${randomUUID()}`;
    const existing = this.restKeys.get(key);
    if (existing) {
      if (existing.workspace !== workspace) throw badRequest('that REST API key belongs to another workspace');
      return existing;
    }
    const created: RestKey = {
      key,
      workspace,
      permissions: new Set((permissions as string[] | undefined) ?? ['users.track']),
    };
    this.restKeys.set(key, created);
    this.changed();
    return created;
  }

  findRestKey(key: string): RestKey | undefined {
    return this.restKeys.get(key);
  }

  /** Sets the /users/track burst limit at runtime and restarts every key's count. */
  setTrackBudget(requests: unknown, windowMs: unknown): void {
    if (!Number.isSafeInteger(requests) || (requests as number) < 1)
      throw badRequest('requests must be a positive integer');
    if (!Number.isSafeInteger(windowMs) || (windowMs as number) < 1)
      throw badRequest('windowMs must be a positive integer');
    this.trackBudget.set(requests as number, windowMs as number);
  }

  // ---- workspaces -------------------------------------------------------------------------------------

  /**
   * Creates a workspace and returns its Data Import Key (random unless given). Asking again for an existing
   * key is not an error — it returns the same key — so setup scripts can be re-run.
   */
  createWorkspace(dataImportKey?: string): string {
    return this.ensureWorkspace(dataImportKey).dataImportKey;
  }

  /** Like createWorkspace, and tells whether the workspace is new (the HTTP route answers 201 or 200). */
  ensureWorkspace(dataImportKey?: string): { dataImportKey: string; created: boolean } {
    if (dataImportKey !== undefined && (typeof dataImportKey !== 'string' || dataImportKey.length === 0)) {
      throw badRequest('dataImportKey must be a non-empty string');
    }
    const key = dataImportKey ?? `sandbox-${randomUUID()}`;
    if (this.workspaces.has(key)) return { dataImportKey: key, created: false };
    this.workspaces.set(key, new Workspace(key));
    this.changed();
    return { dataImportKey: key, created: true };
  }

  /** The workspace a client secret opens, or undefined: only keys created through the sandbox are valid. */
  findWorkspace(dataImportKey: string): Workspace | undefined {
    return this.workspaces.get(dataImportKey);
  }

  workspace(dataImportKey: string): Workspace {
    const ws = this.workspaces.get(dataImportKey);
    if (!ws) throw notFound(`workspace not found: ${JSON.stringify(dataImportKey)}`);
    return ws;
  }

  listWorkspaces(): WorkspaceSummary[] {
    return [...this.workspaces.values()].map((w) => ({
      dataImportKey: w.dataImportKey,
      users: w.users.size,
      cohorts: w.cohortCount,
    }));
  }

  /** Seeds user profiles (merging where identifiers meet) and returns the workspace's user count. */
  seedUsers(dataImportKey: string, users: readonly SeedUser[]): number {
    const size = this.workspace(dataImportKey).seed(parseSeedUsers(users));
    this.changed();
    return size;
  }

  /** The "<partner> Cohorts" filter list of a workspace. */
  listCohorts(dataImportKey: string): CohortSummary[] {
    return this.workspace(dataImportKey).listCohorts();
  }

  /** The profiles the segment "<partner> Cohorts includes <cohortId>" contains. */
  cohortUsers(dataImportKey: string, cohortId: string): { items: ProfileView[]; size: number } {
    return this.workspace(dataImportKey).cohortUsers(cohortId);
  }

  /** The raw identifiers received for a cohort (adds minus removes), matched or not. */
  cohortIdentifiers(dataImportKey: string, cohortId: string): CohortIdentifiers {
    return this.workspace(dataImportKey).cohortIdentifiers(cohortId);
  }

  // ---- faults, budget, log ----------------------------------------------------------------------------

  injectFaults(faults: readonly FaultSpec[]): void {
    this.faults.add(faults);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  pendingFaults(): QueuedFault[] {
    return this.faults.list();
  }

  /** Sets the per-key hourly budget at runtime and restarts every key's count. */
  setBudget(requestsPerHour: number): void {
    if (!Number.isSafeInteger(requestsPerHour) || requestsPerHour < 1) {
      throw badRequest('requestsPerHour must be a positive integer');
    }
    this.budget.setBudget(requestsPerHour);
  }

  requests(limit?: number): LoggedRequest[] {
    return this.log.list(limit);
  }

  clearRequests(): void {
    this.log.clear();
  }

  stats(): RequestStats {
    return this.log.stats();
  }

  /** Back to the state right after start: no workspaces, faults or log, the configured budget. */
  reset(): void {
    this.workspaces.clear();
    this.restKeys.clear();
    this.faults.clear();
    this.log.clear();
    this.budget.setBudget(this.initialBudget);
    this.trackBudget.set(this.initialBurst.requests, this.initialBurst.windowMs);
    this.changed();
  }
}
