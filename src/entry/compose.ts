// The composition root: builds the app's dependencies from adapters. Entry points (serve, worker, demo,
// tests) call this instead of wiring adapters themselves.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  BrazeHttp,
  CohortImportDefinition,
  CustomAttributeDefinition,
  InMemoryRateLimiter,
  type RetryPolicy,
  TRACK_BUDGET,
} from '../adapters/braze/index.ts';
import { hashToken } from '../adapters/crypto/secrets.ts';
import { createSecrets } from '../adapters/crypto/secrets-port.ts';
import { StoreRequestLimiter } from '../adapters/limiter/store-limiter.ts';
import { InProcessQueue } from '../adapters/queue/in-process-queue.ts';
import { type OpenedStore, openStore, type StoreLocation } from '../adapters/store/index.ts';
import { BehavioralEvaluator } from '../app/behavioral.ts';
import type { MembershipChanged } from '../app/cohorts.ts';
import type { AppDeps, AppSettings } from '../app/deps.ts';
import { DEFAULT_SETTINGS } from '../app/deps.ts';
import { Ingestion, type IngestSettings } from '../app/ingest.ts';
import { membershipChanged } from '../app/realtime.ts';
import { RunEventBus, type RunEvents } from '../app/run-events.ts';
import type { BrazeRegion } from '../domain/braze-instances.ts';
import { makeId } from '../domain/ids.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { type DestinationDefinition, registryOf } from '../ports/destination.ts';
import type { RequestLimiter } from '../ports/limiter.ts';
import type { Logger } from '../ports/logger.ts';
import type { JobQueue } from '../ports/queue.ts';

const HOUR_MS = 3_600_000;

export interface ComposeOptions {
  readonly store: StoreLocation;
  readonly secretKey: Buffer;
  readonly logger: Logger;
  readonly braze: {
    readonly partnerSlug: string;
    readonly partnerKeys: Partial<Record<BrazeRegion, string>>;
    /** Cohort import budget per Data Import Key (Braze: 250,000 per hour). */
    readonly requestsPerHour: number;
    /**
     * One budget per key across every process, kept in the store (PostgreSQL only; docs/deploy.md). Off: each
     * process paces alone, which is right for the embedded store's single process.
     */
    readonly sharedLimiter?: boolean;
    /** The window requestsPerHour counts over; default an hour. */
    readonly budgetWindowMs?: number;
    /** /users/track budget per REST API key (Braze's burst limit: 3,000 requests per 3 s). */
    readonly trackBudget?: { readonly requests: number; readonly perMs: number };
    /** Objects per /users/track request (Braze: at most 75). */
    readonly trackMaxObjects?: number;
    readonly retry?: Partial<RetryPolicy>;
    readonly requestTimeoutMs?: number;
  };
  /** The per-key request limiter; defaults to the in-process one. A shared store-backed one can go here. */
  readonly limiter?: RequestLimiter;
  readonly settings?: Partial<AppSettings>;
  /** Ingestion's events/s budget and event retention (config ingest.*). */
  readonly ingest?: Partial<IngestSettings>;
  readonly clock?: Clock;
  /** Decorates each destination definition, e.g. with metrics. */
  readonly wrapDestination?: (definition: DestinationDefinition) => DestinationDefinition;
}

export interface Composed<Q extends JobQueue = InProcessQueue> {
  readonly deps: AppDeps;
  /** Observers of finished runs (notifications, metrics) subscribe here once they are built from `deps`. */
  readonly runEvents: RunEvents;
  readonly store: OpenedStore;
  readonly queue: Q;
  /** Events and identify calls from Amplitude's SDKs; listeners of ingested batches register on it. */
  readonly ingestion: Ingestion;
  /** Keeps behavioral cohorts current from ingested batches and the window sweeper (start() it to sweep). */
  readonly behavioral: BehavioralEvaluator;
  /**
   * The hook for membership changes made through the API: real-time syncs of the cohort follow, and the
   * behavioral cohorts that read it through inCohort are evaluated again.
   */
  readonly onMembershipChanged: MembershipChanged;
  /** A worker identity unique to this process: host, pid and a random suffix. */
  readonly owner: string;
}

/** Builds the job queue once the store is open (migrated) and the settings are known. */
export type QueueFactory = (ctx: {
  readonly store: OpenedStore;
  readonly settings: AppSettings;
  readonly logger: Logger;
  readonly owner: string;
}) => Promise<JobQueue>;

/** pg-boss in the schema the store's migrations created beside the store's own (PostgreSQL only). */
export function pgBossQueue(
  tuning: { pollingIntervalSeconds?: number; concurrency?: number; wakeup?: boolean } = {},
): QueueFactory {
  return async ({ store, settings, logger, owner }) => {
    const location = store.location;
    if (location.kind !== 'postgres') throw new Error('pg-boss needs the PostgreSQL store');
    // Loaded here, not at the top: the embedded store never needs pg-boss, and a restart resumes sooner without it.
    const [{ PgBossQueue }, { pgBossSchemaFor }] = await Promise.all([
      import('../adapters/queue/pg-boss-queue.ts'),
      import('../adapters/queue/pg-boss-schema.ts'),
    ]);
    return PgBossQueue.open(
      {
        connectionString: location.url,
        schema: pgBossSchemaFor(await store.currentSchema()),
        logger,
        ...tuning,
        concurrency: tuning.concurrency ?? settings.concurrency,
      },
      owner,
    );
  };
}

/** With the in-process queue (the embedded store, tests), or with the queue `makeQueue` builds. */
export async function compose(opts: ComposeOptions): Promise<Composed<InProcessQueue>>;
export async function compose(opts: ComposeOptions, makeQueue: QueueFactory): Promise<Composed<JobQueue>>;
export async function compose(opts: ComposeOptions, makeQueue?: QueueFactory): Promise<Composed<JobQueue>> {
  const store = await openStore(opts.store);
  const settings: AppSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const queue = makeQueue
    ? await makeQueue({ store, settings, logger: opts.logger, owner })
    : new InProcessQueue(settings.concurrency, (id, error) =>
        opts.logger.error({ err: error, brazeCohortId: id }, 'work on a Braze cohort failed'),
      );
  const clock = opts.clock ?? systemClock;
  const budgetWindowMs = opts.braze.budgetWindowMs ?? HOUR_MS;
  // One budget per key across every process on PostgreSQL when asked (docs/deploy.md); else in-process.
  const limiter: RequestLimiter =
    opts.limiter ??
    (opts.braze.sharedLimiter && store.raw.engine === 'postgres'
      ? new StoreRequestLimiter(store.raw.db, { logger: opts.logger })
      : new InMemoryRateLimiter({ now: () => clock.now().getTime(), logger: opts.logger }));
  const http = new BrazeHttp({
    limiter,
    ...(opts.braze.retry ? { retry: opts.braze.retry } : {}),
    ...(opts.braze.requestTimeoutMs ? { requestTimeoutMs: opts.braze.requestTimeoutMs } : {}),
    logger: opts.logger,
  });
  const definitions: DestinationDefinition[] = [
    new CohortImportDefinition(http, {
      partnerSlug: opts.braze.partnerSlug,
      partnerKeys: opts.braze.partnerKeys,
      budget: { requests: opts.braze.requestsPerHour, perMs: budgetWindowMs },
    }),
    new CustomAttributeDefinition(http, {
      budget: opts.braze.trackBudget ?? TRACK_BUDGET,
      ...(opts.braze.trackMaxObjects !== undefined ? { maxObjects: opts.braze.trackMaxObjects } : {}),
    }),
  ];
  const wrap = opts.wrapDestination ?? ((d: DestinationDefinition) => d);
  const runEvents = new RunEventBus(opts.logger);
  const deps: AppDeps = {
    store,
    clock,
    newId: (prefix) => makeId(prefix, randomBytes),
    secrets: createSecrets(opts.secretKey),
    destinations: registryOf(definitions.map(wrap)),
    queue,
    logger: opts.logger,
    settings,
    runEvents,
  };
  const ingestion = new Ingestion(deps, hashToken, opts.ingest);
  const realtime = membershipChanged(deps);
  const behavioral = new BehavioralEvaluator(deps, realtime);
  ingestion.onIngested(behavioral.onIngested);
  const onMembershipChanged: MembershipChanged = async (projectId, cohortId) => {
    await realtime(projectId, cohortId);
    await behavioral.cohortChanged(projectId, cohortId);
  };
  return {
    deps,
    runEvents,
    store,
    queue,
    ingestion,
    behavioral,
    onMembershipChanged,
    owner,
  };
}
